//! `chemgnn crystal info`: lattice, space group, orbits and graph sizes of crystal files.

use std::path::Path;

use anyhow::Context;
use chem_crystal::io::read_crystals_with;
use chem_crystal::{
    crystal_lattice, periodic_graph, AsymmetricUnitGraph, Connectivity, PartialOccupancy, Positions, PreparedCrystal,
    ReadOptions, Structure, SymmetryOptions,
};
use chem_graph::element;
use clap::{Args, Subcommand};
use serde::Serialize;

#[derive(Subcommand)]
pub enum CrystalCommand {
    /// Formula, lattice, space group, atoms and orbits (with multiplicities and Wyckoff letters) of
    /// crystal files, and the sizes of the full-cell and asymmetric-unit graphs.
    ///
    /// FILE may be CIF, POSCAR/CONTCAR (*.vasp), pymatgen JSON, a MatBench table (.json.gz) or
    /// extended XYZ with a Lattice.
    Info(InfoArgs),
}

#[derive(Args)]
pub struct InfoArgs {
    /// Crystal files.
    #[arg(required = true)]
    files: Vec<String>,
    /// Distance tolerance of the symmetry search in Å.
    #[arg(long, default_value_t = 1e-3)]
    symprec: f64,
    /// Angle tolerance of the symmetry search in degrees [default: derived from --symprec].
    #[arg(long)]
    angle_tolerance: Option<f64>,
    /// Connectivity whose edge counts are reported: `knn:K[:TOL]`, `radius:R` or `voronoi[:MIN_AREA]`.
    #[arg(long, default_value = "knn:24")]
    graph: Connectivity,
    /// Positions the graphs are built from: `symmetrized` (snapped to the symmetry found, so that
    /// the asymmetric unit always stands for the cell) or `original` (as read).
    #[arg(long, default_value_t = Positions::Symmetrized)]
    positions: Positions,
    /// Accept partially occupied sites by keeping the majority species (else they are an error).
    #[arg(long)]
    majority_occupancy: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: CrystalCommand) -> anyhow::Result<()> {
    match cmd {
        CrystalCommand::Info(args) => info(&args),
    }
}

#[derive(Serialize)]
struct CrystalInfo {
    file: String,
    name: String,
    formula: String,
    atoms: usize,
    lattice: LatticeInfo,
    space_group: SpaceGroupInfo,
    symmetrization: SymmetrizationInfo,
    sites: Vec<Site>,
    orbits: Vec<Orbit>,
    graph: GraphInfo,
}

#[derive(Serialize)]
struct SymmetrizationInfo {
    positions: String,
    max_displacement: f64,
    max_lattice_change: f64,
}

#[derive(Serialize)]
struct LatticeInfo {
    matrix: [[f64; 3]; 3],
    lengths: [f64; 3],
    angles: [f64; 3],
    volume: f64,
}

#[derive(Serialize)]
struct SpaceGroupInfo {
    number: u8,
    symbol: String,
    crystal_system: &'static str,
    operations: usize,
    /// The tolerance the search ended with (moyo halves it when the requested one fails).
    symprec: f64,
    requested_symprec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
}

#[derive(Serialize)]
struct Site {
    element: &'static str,
    fractional: [f64; 3],
    wyckoff: char,
    orbit: usize,
}

#[derive(Serialize)]
struct Orbit {
    representative: usize,
    element: &'static str,
    wyckoff: char,
    site_symmetry: String,
    multiplicity: usize,
}

#[derive(Serialize)]
struct GraphInfo {
    connectivity: String,
    full_nodes: usize,
    full_edges: usize,
    asu_nodes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    asu_edges: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asu_error: Option<String>,
}

fn info(args: &InfoArgs) -> anyhow::Result<()> {
    let options = ReadOptions {
        partial_occupancy: if args.majority_occupancy { PartialOccupancy::Majority } else { PartialOccupancy::Error },
        ..Default::default()
    };
    let symmetry_options = SymmetryOptions { symprec: args.symprec, angle_tolerance: args.angle_tolerance };
    let mut all = Vec::new();
    for file in &args.files {
        let structures = read_crystals_with(Path::new(file), &options).map_err(|e| {
            let hint = if e.to_string().contains("partially occupied") {
                "\n(chemgnn: pass --majority-occupancy to keep the majority species at each site)"
            } else {
                ""
            };
            anyhow::anyhow!("{e}{hint}")
        })?;
        super::data::print_read_warnings(file, &structures);
        for s in &structures {
            let info = describe(file, s, &symmetry_options, args).with_context(|| format!("{file}: {}", s.name))?;
            if !args.json {
                print!("{}", render(&info));
            }
            all.push(info);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

fn symbol(z: u8) -> &'static str {
    element::by_number(z).map_or("?", |e| e.symbol)
}

/// What `crystal info` reports for one structure: the lattice, sites and graphs are those of the
/// structure the graphs are built from (symmetrised unless `--positions original`).
fn describe(file: &str, input: &Structure, options: &SymmetryOptions, args: &InfoArgs) -> anyhow::Result<CrystalInfo> {
    let prepared = PreparedCrystal::new(input, options, args.positions)?;
    let (s, symmetry) = (&prepared.structure, &prepared.symmetry);
    let lattice = crystal_lattice(s)?;
    let multiplicities = symmetry.multiplicities();
    let sites = lattice
        .fractional_positions(s)
        .into_iter()
        .enumerate()
        .map(|(i, f)| Site {
            element: symbol(s.numbers[i]),
            fractional: f,
            wyckoff: symmetry.wyckoffs[i],
            orbit: symmetry.orbits[i],
        })
        .collect();
    let orbits = symmetry
        .representatives()
        .into_iter()
        .map(|r| Orbit {
            representative: r,
            element: symbol(s.numbers[r]),
            wyckoff: symmetry.wyckoffs[r],
            site_symmetry: symmetry.site_symmetry[r].clone(),
            multiplicity: multiplicities[r],
        })
        .collect::<Vec<_>>();
    let connectivity = &args.graph;
    let full = periodic_graph(s, connectivity)?;
    let (asu_edges, asu_error) = match AsymmetricUnitGraph::new(&full, s, symmetry) {
        Ok(asu) => (Some(asu.num_edges()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(CrystalInfo {
        file: file.to_string(),
        name: s.name.clone(),
        formula: s.formula(),
        atoms: s.len(),
        lattice: LatticeInfo {
            matrix: *lattice.rows(),
            lengths: lattice.lengths(),
            angles: lattice.angles(),
            volume: lattice.volume(),
        },
        space_group: SpaceGroupInfo {
            number: symmetry.number,
            symbol: symmetry.symbol.clone(),
            crystal_system: symmetry.crystal_system(),
            operations: symmetry.operations.len(),
            symprec: symmetry.symprec,
            requested_symprec: options.symprec,
            fallback: symmetry.fallback.clone(),
        },
        symmetrization: SymmetrizationInfo {
            positions: args.positions.to_string(),
            max_displacement: prepared.max_displacement,
            max_lattice_change: prepared.max_lattice_change,
        },
        sites,
        graph: GraphInfo {
            connectivity: connectivity.to_string(),
            full_nodes: s.len(),
            full_edges: full.num_edges(),
            asu_nodes: orbits.len(),
            asu_edges,
            asu_error,
        },
        orbits,
    })
}

fn render(c: &CrystalInfo) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let title = if c.name.is_empty() || c.name == c.file { c.file.clone() } else { format!("{} ({})", c.file, c.name) };
    line(format!("{title}: {} ({} atoms)", c.formula, c.atoms));
    let (l, a) = (c.lattice.lengths, c.lattice.angles);
    line(format!(
        "  lattice      a {:.4} b {:.4} c {:.4} Å, α {:.3} β {:.3} γ {:.3}°, volume {:.3} Å³",
        l[0], l[1], l[2], a[0], a[1], a[2], c.lattice.volume
    ));
    let sg = &c.space_group;
    line(format!(
        "  space group  {} ({}), {}, {} operations, symprec {}",
        sg.symbol, sg.number, sg.crystal_system, sg.operations, sg.symprec
    ));
    if sg.symprec < sg.requested_symprec {
        line(format!(
            "               the search failed at the requested symprec {} and succeeded at {}: a subgroup of \
             what the requested tolerance allows is possible (docs/spglib_comparison.md, class B)",
            sg.requested_symprec, sg.symprec
        ));
    }
    if let Some(reason) = &sg.fallback {
        line(format!("               symmetry not used ({reason}); treated as P1"));
    }
    let sym = &c.symmetrization;
    if sym.positions == Positions::Symmetrized.to_string() && sg.fallback.is_none() {
        line(format!(
            "  symmetrized  atoms moved by at most {:.2e} Å, cell vectors by at most {:.2e} Å",
            sym.max_displacement, sym.max_lattice_change
        ));
    } else {
        line(format!("  positions    {}", sym.positions));
    }
    line(format!(
        "  orbits       {} (atoms per orbit {:.2})",
        c.orbits.len(),
        c.atoms as f64 / c.orbits.len().max(1) as f64
    ));
    line("    rep  element  wyckoff  site symmetry  multiplicity".into());
    for o in &c.orbits {
        line(format!(
            "    {:>3}  {:<7}  {:<7}  {:<13}  {}",
            o.representative, o.element, o.wyckoff, o.site_symmetry, o.multiplicity
        ));
    }
    line("  atoms".into());
    for (i, s) in c.sites.iter().enumerate() {
        let f = s.fractional;
        line(format!(
            "    {i:>3}  {:<2}  {:>10.6} {:>10.6} {:>10.6}  {}  orbit {}",
            s.element, f[0], f[1], f[2], s.wyckoff, s.orbit
        ));
    }
    let g = &c.graph;
    match (g.asu_edges, &g.asu_error) {
        (Some(asu_edges), _) => line(format!(
            "  graph {}   full cell {} nodes, {} edges; asymmetric unit {} nodes, {} edges ({:.2}× fewer)",
            g.connectivity,
            g.full_nodes,
            g.full_edges,
            g.asu_nodes,
            asu_edges,
            g.full_edges as f64 / asu_edges.max(1) as f64
        )),
        (None, error) => line(format!(
            "  graph {}   full cell {} nodes, {} edges; no asymmetric-unit graph: {}",
            g.connectivity,
            g.full_nodes,
            g.full_edges,
            error.as_deref().unwrap_or("")
        )),
    }
    out
}
