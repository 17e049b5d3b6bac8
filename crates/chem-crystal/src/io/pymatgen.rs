//! pymatgen `Structure.as_dict()` JSON: to and from [`Structure`].
//!
//! # Reading ([`structure_from_dict`])
//! * The cell is `lattice.matrix` (rows, Å); `lattice.pbc`, when given, must be all true.
//! * Each site's position is its fractional `abc` times the matrix (robust against an `xyz` that
//!   was not updated), or its Cartesian `xyz` when `abc` is absent.
//! * The element is each species' `element` (a suffix such as `Fe3+` is read as the oxidation
//!   state); `oxidation_state` values go into the per-atom real array `"oxidation_state"` (NaN for
//!   sites without one) when any site has one.
//! * A site with several species or an occupancy `occu` below 1 is partially occupied and handled
//!   by [`ReadOptions::partial_occupancy`] like a CIF site (an error by default).
//! * Site `properties` present on every site with one consistent type become per-atom arrays
//!   (numbers → real, logical values → logical, strings → strings; lists of equal length give the
//!   width, e.g. `selective_dynamics` → logical width 3, `magmom` → real width 1). Structure
//!   `properties` that are numbers, logical values, strings or lists of numbers or logical values
//!   become [`Property`]s; a non-zero `charge` becomes the `"charge"` property. Anything else is not
//!   converted and its key is listed in the `"skipped_properties"` property (site keys as `site:key`).
//! * The result must be a valid crystal (right-handed non-singular cell, no atoms closer than
//!   [`ReadOptions::min_distance`]). Errors start with the origin given by the caller and name the
//!   site by its 0-based index, e.g. `matbench_x.json.gz: entry 12: site 3: unknown element "Xx"`.
//!
//! # Writing ([`structure_to_dict`])
//! The inverse: `@module`/`@class`, `charge`, `lattice` (`matrix`, `pbc`, `a`, `b`, `c`, `alpha`,
//! `beta`, `gamma`, `volume`), `properties`, and one species per site with `occu` from the
//! `"occupancy"` array (default 1) and `oxidation_state` from `"oxidation_state"` (when finite);
//! other per-atom arrays become site `properties` (width 1 as a scalar, otherwise a list).

use std::collections::BTreeMap;

use chem_graph::{AtomArray, Property, Structure};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::io::check::{check_crystal, crystal_lattice};
use crate::io::occupancy::{check_occupancy, is_partial, resolve, Member};
use crate::io::options::ReadOptions;
use crate::io::species::parse_species;
use chem_graph::error::shown;

/// Converts a pymatgen structure dict with the default [`ReadOptions`]; `origin` (e.g.
/// `"file.json: entry 3"`) starts every error message.
pub fn structure_from_dict(dict: &Value, origin: &str) -> Result<Structure> {
    structure_from_dict_with(dict, origin, &ReadOptions::default())
}

/// Converts a pymatgen structure dict (see the [module docs](self)).
pub fn structure_from_dict_with(dict: &Value, origin: &str, options: &ReadOptions) -> Result<Structure> {
    options.check()?;
    from_dict(dict, options).map_err(|m| Error::invalid(format!("{origin}: {m}")))
}

/// One site's choice: element, oxidation state and occupancy of the kept species.
struct Chosen {
    z: u8,
    oxidation: Option<f64>,
    occupancy: f64,
}

fn from_dict(dict: &Value, options: &ReadOptions) -> Result<Structure, String> {
    let dict = dict.as_object().ok_or("expected a pymatgen structure dict (a JSON object)")?;
    let lattice = dict.get("lattice").and_then(Value::as_object).ok_or("no \"lattice\" object")?;
    let matrix = lattice.get("matrix").ok_or("no \"lattice\".\"matrix\"")?;
    let rows = matrix3(matrix).ok_or("\"lattice\".\"matrix\" must be 3 rows of 3 numbers")?;
    if let Some(pbc) = lattice.get("pbc").filter(|p| !p.is_null()) {
        if pbc != &json!([true, true, true]) {
            return Err(format!("\"lattice\".\"pbc\" is {pbc}: only fully periodic structures are crystals"));
        }
    }
    let cell = crate::lattice::Lattice::new(rows).map_err(|e| e.to_string())?;
    let sites = dict.get("sites").and_then(Value::as_array).ok_or("no \"sites\" list")?;
    if sites.is_empty() {
        return Err("the \"sites\" list is empty".into());
    }

    let mut numbers = Vec::with_capacity(sites.len());
    let mut positions = Vec::with_capacity(sites.len());
    let mut disordered: Vec<(usize, Vec<Member>, Vec<Chosen>)> = Vec::new();
    let mut chosen: Vec<Chosen> = Vec::with_capacity(sites.len());
    for (i, site) in sites.iter().enumerate() {
        let at = |m: String| format!("site {i}: {m}");
        let site = site.as_object().ok_or_else(|| at("expected an object".into()))?;
        let species = site
            .get("species")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| at("no \"species\" list".into()))?;
        let mut candidates = Vec::with_capacity(species.len());
        for sp in species {
            candidates.push(read_species(sp).map_err(at)?);
        }
        let position = if let Some(abc) = site.get("abc").filter(|v| !v.is_null()) {
            cell.to_cartesian(&vector3(abc).ok_or_else(|| at("\"abc\" must be 3 finite numbers".into()))?)
        } else {
            let xyz = site.get("xyz").ok_or_else(|| at("neither \"abc\" nor \"xyz\"".into()))?;
            vector3(xyz).ok_or_else(|| at("\"xyz\" must be 3 finite numbers".into()))?
        };
        positions.push(position);
        if candidates.len() > 1 || is_partial(candidates[0].occupancy) {
            let members = candidates
                .iter()
                .map(|c| Member {
                    name: format!("site {i} {}", chem_graph::element::by_number(c.z).map_or("?", |e| e.symbol)),
                    place: String::new(),
                    occupancy: c.occupancy,
                })
                .collect();
            disordered.push((chosen.len(), members, candidates));
            chosen.push(Chosen { z: 0, oxidation: None, occupancy: 0.0 });
        } else {
            chosen.extend(candidates);
        }
    }
    let mut properties = BTreeMap::new();
    let mut any_partial = false;
    if !disordered.is_empty() {
        let groups: Vec<Vec<Member>> = disordered.iter().map(|(_, m, _)| m.clone()).collect();
        let resolved = resolve(&groups, options.partial_occupancy)?;
        for ((index, _, candidates), &k) in disordered.into_iter().zip(&resolved.keep) {
            chosen[index] = candidates.into_iter().nth(k).ok_or("internal: no species kept")?;
        }
        properties.insert("disorder".to_owned(), Property::Str(resolved.disorder));
        any_partial = true;
    }
    numbers.extend(chosen.iter().map(|c| c.z));

    let mut skipped = Vec::new();
    let mut atom_arrays = site_arrays(sites, &mut skipped);
    if chosen.iter().any(|c| c.oxidation.is_some()) {
        let data = chosen.iter().map(|c| c.oxidation.unwrap_or(f64::NAN)).collect();
        atom_arrays.insert("oxidation_state".into(), AtomArray::Real { width: 1, data });
    }
    if any_partial {
        let data = chosen.iter().map(|c| c.occupancy).collect();
        atom_arrays.insert("occupancy".into(), AtomArray::Real { width: 1, data });
    }
    if let Some(props) = dict.get("properties").and_then(Value::as_object) {
        for (key, value) in props {
            match to_property(value) {
                Some(p) => {
                    properties.insert(key.clone(), p);
                }
                None => skipped.push(key.clone()),
            }
        }
    }
    if let Some(charge) = dict.get("charge").and_then(Value::as_f64).filter(|&c| c != 0.0) {
        properties.insert("charge".into(), Property::Float(charge));
    }
    if !skipped.is_empty() {
        properties.insert("skipped_properties".into(), Property::Str(skipped.join(", ")));
    }
    let structure = Structure {
        name: String::new(),
        numbers,
        positions,
        cell: Some(rows),
        pbc: [true; 3],
        atom_arrays,
        properties,
    };
    check_crystal(&structure, options.min_distance, |i| format!("site {i}"))?;
    Ok(structure)
}

/// One entry of a site's `species`.
fn read_species(sp: &Value) -> Result<Chosen, String> {
    let element = sp.get("element").and_then(Value::as_str).ok_or("a species without an \"element\" string")?;
    let parsed = parse_species(element)?;
    let occupancy = match sp.get("occu") {
        None | Some(Value::Null) => 1.0,
        Some(v) => v.as_f64().ok_or_else(|| format!("\"occu\" {} is not a number", shown(&v.to_string())))?,
    };
    check_occupancy(occupancy).map_err(|m| format!("species {element}: {m}"))?;
    let oxidation = match sp.get("oxidation_state") {
        None | Some(Value::Null) => parsed.oxidation,
        Some(v) => {
            Some(v.as_f64().ok_or_else(|| format!("\"oxidation_state\" {} is not a number", shown(&v.to_string())))?)
        }
    };
    Ok(Chosen { z: parsed.z, oxidation, occupancy })
}

fn vector3(v: &Value) -> Option<[f64; 3]> {
    let a = v.as_array().filter(|a| a.len() == 3)?;
    let mut out = [0.0; 3];
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.as_f64().filter(|x| x.is_finite())?;
    }
    Some(out)
}

fn matrix3(v: &Value) -> Option<[[f64; 3]; 3]> {
    let a = v.as_array().filter(|a| a.len() == 3)?;
    Some([vector3(&a[0])?, vector3(&a[1])?, vector3(&a[2])?])
}

/// Site properties present on every site with one consistent type, as per-atom arrays; the keys
/// of the others go to `skipped` as `site:key`.
fn site_arrays(sites: &[Value], skipped: &mut Vec<String>) -> BTreeMap<String, AtomArray> {
    let mut keys: Vec<&String> = Vec::new();
    for s in sites {
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for k in props.keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for key in keys {
        let values: Vec<Option<&Value>> = sites.iter().map(|s| s.get("properties").and_then(|p| p.get(key))).collect();
        let reserved = key == "oxidation_state" || key == "occupancy";
        match values.iter().copied().collect::<Option<Vec<&Value>>>().and_then(|v| column(&v)).filter(|_| !reserved) {
            Some(array) => {
                out.insert(key.clone(), array);
            }
            None => skipped.push(format!("site:{key}")),
        }
    }
    out
}

/// Values of one kind (numbers, logical values, strings; scalars or equal-length lists) as an array.
fn column(values: &[&Value]) -> Option<AtomArray> {
    let items = |v: &&Value| -> Vec<Value> {
        match v {
            Value::Array(a) => a.clone(),
            other => vec![(*other).clone()],
        }
    };
    let rows: Vec<Vec<Value>> = values.iter().map(items).collect();
    let width = rows.first()?.len();
    if width == 0 || rows.iter().any(|r| r.len() != width) {
        return None;
    }
    let flat: Vec<Value> = rows.into_iter().flatten().collect();
    if let Some(data) = flat.iter().map(|v| v.as_f64().filter(|x| x.is_finite())).collect::<Option<Vec<f64>>>() {
        return Some(AtomArray::Real { width, data });
    }
    if let Some(data) = flat.iter().map(Value::as_bool).collect::<Option<Vec<bool>>>() {
        return Some(AtomArray::Bool { width, data });
    }
    if let Some(data) = flat.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<String>>>() {
        return Some(AtomArray::Str { width, data });
    }
    None
}

/// A JSON value as a [`Property`], when it has a matching kind.
fn to_property(v: &Value) -> Option<Property> {
    match v {
        Value::Bool(b) => Some(Property::Bool(*b)),
        Value::String(s) => Some(Property::Str(s.clone())),
        Value::Number(n) => n.as_i64().map(Property::Int).or_else(|| n.as_f64().map(Property::Float)),
        Value::Array(a) => {
            if let Some(i) = a.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>() {
                Some(Property::IntArray(i))
            } else if let Some(f) = a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>() {
                Some(Property::FloatArray(f))
            } else {
                a.iter().map(Value::as_bool).collect::<Option<Vec<bool>>>().map(Property::BoolArray)
            }
        }
        _ => None,
    }
}

/// A [`Property`] as JSON (non-finite reals become `null`).
fn from_property(p: &Property) -> Value {
    match p {
        Property::Float(x) => json!(x),
        Property::Int(i) => json!(i),
        Property::Bool(b) => json!(b),
        Property::Str(s) => json!(s),
        Property::FloatArray(a) => json!(a),
        Property::IntArray(a) => json!(a),
        Property::BoolArray(a) => json!(a),
    }
}

/// The pymatgen `Structure.as_dict()` of a crystal (see the [module docs](self)). Errors unless the
/// structure is a crystal with a right-handed cell.
pub fn structure_to_dict(structure: &Structure) -> Result<Value> {
    let who = structure.label();
    let lattice = crystal_lattice(structure).map_err(|m| Error::invalid(format!("{who}: {m}")))?;
    let real = |name: &str| match structure.atom_arrays.get(name) {
        None => Ok(None),
        Some(AtomArray::Real { width: 1, data }) => Ok(Some(data)),
        Some(_) => Err(Error::invalid(format!("{who}: the per-atom array '{name}' must be real with width 1"))),
    };
    let (oxidation, occupancy) = (real("oxidation_state")?, real("occupancy")?);
    let symbols = structure.symbols();
    let mut sites = Vec::with_capacity(structure.len());
    for (i, p) in structure.positions.iter().enumerate() {
        let mut species = Map::new();
        species.insert("element".into(), json!(symbols[i]));
        species.insert("occu".into(), json!(occupancy.map_or(1.0, |o| o[i])));
        if let Some(o) = oxidation.map(|o| o[i]).filter(|o| o.is_finite()) {
            species.insert("oxidation_state".into(), json!(o));
        }
        let mut props = Map::new();
        for (key, array) in &structure.atom_arrays {
            if key == "oxidation_state" || key == "occupancy" {
                continue;
            }
            props.insert(key.clone(), array_row(array, i));
        }
        sites.push(json!({
            "species": [Value::Object(species)],
            "abc": lattice.to_fractional(p),
            "xyz": p,
            "label": symbols[i],
            "properties": props,
        }));
    }
    let [a, b, c] = lattice.lengths();
    let [alpha, beta, gamma] = lattice.angles();
    let properties: Map<String, Value> = structure
        .properties
        .iter()
        .filter(|(k, _)| k.as_str() != "charge")
        .map(|(k, v)| (k.clone(), from_property(v)))
        .collect();
    Ok(json!({
        "@module": "pymatgen.core.structure",
        "@class": "Structure",
        "charge": structure.property_f64("charge").unwrap_or(0.0),
        "lattice": {
            "matrix": lattice.rows(),
            "pbc": [true, true, true],
            "a": a, "b": b, "c": c, "alpha": alpha, "beta": beta, "gamma": gamma,
            "volume": lattice.volume(),
        },
        "properties": properties,
        "sites": sites,
    }))
}

/// Atom `i`'s values of `array`: a scalar for width 1, a list otherwise.
fn array_row(array: &AtomArray, i: usize) -> Value {
    fn row<T: Clone + Into<Value>>(data: &[T], width: usize, i: usize) -> Value {
        let values: Vec<Value> = data[i * width..(i + 1) * width].iter().cloned().map(Into::into).collect();
        if width == 1 {
            values.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        }
    }
    match array {
        AtomArray::Real { width, data } => row(data, *width, i),
        AtomArray::Int { width, data } => row(data, *width, i),
        AtomArray::Bool { width, data } => row(data, *width, i),
        AtomArray::Str { width, data } => row(data, *width, i),
    }
}
