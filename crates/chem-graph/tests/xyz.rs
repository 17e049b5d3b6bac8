//! Integration tests of the XYZ / extended-XYZ readers and writers.

use std::collections::BTreeMap;

use chem_graph::xyz::{
    read_xyz, read_xyz_file, read_xyz_str, write_extxyz, write_extxyz_file, write_xyz, write_xyz_file, XyzFrames,
};
use chem_graph::{AtomArray, Error, Property, Structure};
use proptest::prelude::*;

/// Two frames as ASE 3.22 writes them (`ase.io.write(..., format="extxyz")`).
const ASE_FRAMES: &str = r#"2
Lattice="0.0 2.715 2.715 2.715 0.0 2.715 2.715 2.715 0.0" Properties=species:S:1:pos:R:3:forces:R:3:magmoms:R:1 energy=-12.5 stress="1 2 3 4 5 6 7 8 9" config_type=bulk name="Si diamond" pbc="T T T"
Si       0.00000000       0.00000000       0.00000000       0.01000000      -0.02000000       0.03000000       0.00000000
Si       1.35750000       1.35750000       1.35750000      -0.01000000       0.02000000      -0.03000000       0.50000000
3
Properties=species:S:1:pos:R:3:forces:R:3 energy=-14.21873 dipole="0.0 0.0 0.3842" free_energy=-14.21873 pbc="F F F"
O        0.00000000       0.00000000       0.11926200       0.00000000       0.00000000      -0.12500000
H        0.00000000       0.76323900      -0.47704700       0.00000000       0.05000000       0.06250000
H        0.00000000      -0.76323900      -0.47704700       0.00000000      -0.05000000       0.06250000
"#;

fn real(width: usize, data: Vec<f64>) -> AtomArray {
    AtomArray::Real { width, data }
}

fn extxyz_string(structures: &[Structure]) -> String {
    let mut out = Vec::new();
    write_extxyz(&mut out, structures).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn reads_ase_multiframe_extxyz_exactly() {
    let frames = read_xyz_str(ASE_FRAMES, "ase.extxyz").unwrap();
    assert_eq!(frames.len(), 2);

    let si = &frames[0];
    assert_eq!(si.name, "Si diamond");
    assert_eq!(si.numbers, [14, 14]);
    assert_eq!(si.positions, [[0.0; 3], [1.3575, 1.3575, 1.3575]]);
    assert_eq!(si.cell, Some([[0.0, 2.715, 2.715], [2.715, 0.0, 2.715], [2.715, 2.715, 0.0]]));
    assert_eq!(si.pbc, [true; 3]);
    let arrays: BTreeMap<String, AtomArray> = [
        ("forces".to_string(), real(3, vec![0.01, -0.02, 0.03, -0.01, 0.02, -0.03])),
        ("magmoms".to_string(), real(1, vec![0.0, 0.5])),
    ]
    .into();
    assert_eq!(si.atom_arrays, arrays);
    let props: BTreeMap<String, Property> = [
        ("energy".to_string(), Property::Float(-12.5)),
        ("stress".to_string(), Property::IntArray((1..=9).collect())),
        ("config_type".to_string(), Property::Str("bulk".into())),
    ]
    .into();
    assert_eq!(si.properties, props);
    assert_eq!(si.property_f64("energy"), Some(-12.5));

    let water = &frames[1];
    assert_eq!(water.name, "");
    assert_eq!(water.formula(), "H2O");
    assert_eq!(water.numbers, [8, 1, 1]);
    assert_eq!(water.positions[1], [0.0, 0.763239, -0.477047]);
    assert_eq!(water.cell, None);
    assert_eq!(water.pbc, [false; 3]);
    assert_eq!(water.atom_arrays["forces"].as_real().unwrap()[2], -0.125);
    assert_eq!(water.properties["dipole"], Property::FloatArray(vec![0.0, 0.0, 0.3842]));
    assert_eq!(water.properties["energy"], Property::Float(-14.21873));
    assert_eq!(water.properties.len(), 3);
}

#[test]
fn reads_the_rest_of_the_ase_dialect() {
    let text = concat!(
        "4\n",
        r#"lattice="5 0 0 0 5 0 0 0 20" PROPERTIES=species:S:1:pos:R:3:tags:I:1:fixed:L:3:label:S:1 PBC="t True f" "#,
        r#"e=-1.5D+01 n=42 big=1d3 ok=T nope=False flag note="a \"quoted\" word" path=x\ y "#,
        r#"arr={1.5, 2, 3} one=[7] ints="1,2,3" flags="T F" nested=[[1,2],[3,4]] Name=kept comment="hi there""#,
        "\n",
        "si 0 0 0 1 T F F a1\n",
        "SI 1.0 1.0 1e0 2 F T F b\n",
        "6 2.5d0 0.5 0 3 True false F c\n",
        "o\t0.1 0.2 0.3\t4 t F f d\n",
    );
    let s = &read_xyz_str(text, "dialect.xyz").unwrap()[0];
    assert_eq!(s.numbers, [14, 14, 6, 8]);
    assert_eq!(s.positions[1], [1.0, 1.0, 1.0]);
    assert_eq!(s.positions[2], [2.5, 0.5, 0.0]);
    assert_eq!(s.positions[3], [0.1, 0.2, 0.3]);
    assert_eq!(s.cell, Some([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 20.0]]));
    assert_eq!(s.pbc, [true, true, false]);
    assert_eq!(s.name, "");
    assert_eq!(s.atom_arrays["tags"], AtomArray::Int { width: 1, data: vec![1, 2, 3, 4] });
    let fixed = [true, false, false, false, true, false, true, false, false, true, false, false];
    assert_eq!(s.atom_arrays["fixed"], AtomArray::Bool { width: 3, data: fixed.to_vec() });
    let labels = ["a1", "b", "c", "d"].map(String::from).to_vec();
    assert_eq!(s.atom_arrays["label"], AtomArray::Str { width: 1, data: labels });
    let p = &s.properties;
    assert_eq!(p["e"], Property::Float(-15.0));
    assert_eq!(p["n"], Property::Int(42));
    assert_eq!(p["big"], Property::Float(1000.0));
    assert_eq!(p["ok"], Property::Bool(true));
    assert_eq!(p["nope"], Property::Bool(false));
    assert_eq!(p["flag"], Property::Bool(true));
    assert_eq!(p["note"], Property::Str(r#"a "quoted" word"#.into()));
    assert_eq!(p["path"], Property::Str("x y".into()));
    assert_eq!(p["arr"], Property::FloatArray(vec![1.5, 2.0, 3.0]));
    assert_eq!(p["one"], Property::IntArray(vec![7]));
    assert_eq!(p["ints"], Property::IntArray(vec![1, 2, 3]));
    assert_eq!(p["flags"], Property::BoolArray(vec![true, false]));
    assert_eq!(p["nested"], Property::IntArray(vec![1, 2, 3, 4]));
    assert_eq!(p["Name"], Property::Str("kept".into()), "only lower-case `name` is the structure name");
    assert_eq!(p["comment"], Property::Str("hi there".into()));
    assert_eq!(p.len(), 15, "special keys must not leak into properties: {p:?}");
}

#[test]
fn z_column_and_lattice_defaults() {
    // No species column: Z gives the numbers. A Lattice without pbc means periodic in 3D.
    let text = "2\nProperties=Z:I:1:pos:R:3 Lattice=\"3 0 0 0 3 0 0 0 3\"\n26 0 0 0\n8 1.5 1.5 1.5\n";
    let s = &read_xyz_str(text, "z.xyz").unwrap()[0];
    assert_eq!(s.numbers, [26, 8]);
    assert!(s.atom_arrays.is_empty());
    assert_eq!(s.pbc, [true; 3]);
    assert_eq!(s.formula(), "FeO");
    // With both, species wins and Z stays an ordinary column.
    let text = "1\nProperties=species:S:1:Z:I:1:pos:R:3\nC 6 0 0 0\n";
    let s = &read_xyz_str(text, "z.xyz").unwrap()[0];
    assert_eq!(s.numbers, [6]);
    assert_eq!(s.atom_arrays["Z"], AtomArray::Int { width: 1, data: vec![6] });
}

#[test]
fn reads_plain_xyz() {
    let text =
        "3\n  water, B3LYP/6-31G* geometry \r\nO 0.0 0.0 0.1193\r\nH 0.0 0.7632 -0.4770\nH 0.0 -0.7632 -0.4770\n\n\
                1\n\nHe 0 0 0\n\n\n   \n";
    let frames = read_xyz_str(text, "plain.xyz").unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].name, "water, B3LYP/6-31G* geometry");
    assert_eq!(frames[0].numbers, [8, 1, 1]);
    assert_eq!(frames[0].positions[2], [0.0, -0.7632, -0.477]);
    assert_eq!(frames[0].cell, None);
    assert!(frames[0].properties.is_empty() && frames[0].atom_arrays.is_empty());
    assert_eq!(frames[1].name, "");
    assert_eq!(frames[1].numbers, [2]);
    assert_eq!(read_xyz_str("0\nnothing\n", "zero.xyz").unwrap()[0].len(), 0);
}

#[test]
fn extxyz_round_trip_is_exact() {
    let mut frames = read_xyz_str(ASE_FRAMES, "ase.extxyz").unwrap();
    let mut s = frames[0].clone();
    s.name = "Si \"diamond\" \\ test".into();
    s.positions[1] = [0.1 + 0.2, 1.0 / 3.0, -1e-300];
    s.cell = Some([[5.43, 1e-17, 0.0], [0.0, 5.43, 0.0], [0.0, 0.0, 1e20]]);
    s.pbc = [true, false, true];
    s.atom_arrays.insert("tag".into(), AtomArray::Int { width: 1, data: vec![-3, i64::MAX] });
    s.atom_arrays.insert("mask".into(), AtomArray::Bool { width: 2, data: vec![true, false, false, true] });
    s.atom_arrays.insert("kind".into(), AtomArray::Str { width: 1, data: vec!["bulk-Si".into(), "x=1".into()] });
    let p = &mut s.properties;
    p.insert("whole".into(), Property::Float(2.0));
    p.insert("tiny".into(), Property::Float(5e-324));
    p.insert("count".into(), Property::Int(i64::MIN));
    p.insert("conv".into(), Property::Bool(false));
    p.insert("empty".into(), Property::Str(String::new()));
    p.insert("odd".into(), Property::Str("{[ a=b, \"c\" \\ ]}".into()));
    p.insert("one".into(), Property::FloatArray(vec![3.0]));
    p.insert("ones".into(), Property::IntArray(vec![1]));
    p.insert("mask1".into(), Property::BoolArray(vec![false]));
    p.insert("bools".into(), Property::BoolArray(vec![true, false, true]));
    p.insert("reals".into(), Property::FloatArray(vec![1.0, -2.0, 1e300, 0.1]));
    frames.push(s);
    frames.push(Structure::default());

    let text = extxyz_string(&frames);
    let back = read_xyz_str(&text, "written.extxyz").unwrap();
    assert_eq!(back, frames, "{text}");
    assert_eq!(extxyz_string(&back), text, "writing is deterministic");
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.starts_with(
            "Lattice=\"0.0 2.715 2.715 2.715 0.0 2.715 2.715 2.715 0.0\" \
                            Properties=species:S:1:pos:R:3:forces:R:3:magmoms:R:1 name=\"Si diamond\" "
        ),
        "{header}"
    );
    assert!(header.ends_with(r#"config_type=bulk energy=-12.5 stress="1 2 3 4 5 6 7 8 9" pbc="T T T""#), "{header}");
}

#[test]
fn plain_round_trip_keeps_atoms_and_name() {
    let s = Structure {
        name: "methane conformer 3".into(),
        ..Structure::molecule(
            vec![6, 1, 1, 1, 1],
            vec![[0.1 + 0.2, -1e-9, 7.0], [1.0; 3], [-1.0; 3], [2.5; 3], [1e5; 3]],
        )
        .unwrap()
    };
    let mut out = Vec::new();
    write_xyz(&mut out, std::slice::from_ref(&s)).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("5\nmethane conformer 3\nC  0.30000000000000004 -1e-9 7.0\nH  1.0 1.0 1.0\n"), "{text}");
    assert_eq!(read_xyz_str(&text, "plain.xyz").unwrap(), vec![s.clone()]);
    // A name holding `=` (found by fuzzing: `=&`) is written as the `name` key, not read as a header.
    for name in ["=&", "a=b c"] {
        let named = Structure { name: name.into(), ..s.clone() };
        let mut out = Vec::new();
        write_xyz(&mut out, std::slice::from_ref(&named)).unwrap();
        let read = read_xyz_str(&String::from_utf8(out).unwrap(), "plain.xyz").unwrap();
        assert_eq!(read[0].name, name);
    }
}

#[test]
fn file_helpers_and_frame_iterator() {
    let dir = tempfile::tempdir().unwrap();
    let frames = read_xyz_str(ASE_FRAMES, "ase.extxyz").unwrap();
    let ext = dir.path().join("frames.extxyz");
    write_extxyz_file(&ext, &frames).unwrap();
    assert_eq!(read_xyz_file(&ext).unwrap(), frames);
    let plain = dir.path().join("frames.xyz");
    write_xyz_file(&plain, &frames).unwrap();
    let back = read_xyz_file(&plain).unwrap();
    assert_eq!(back[0].name, "Si diamond");
    assert_eq!(back[1].positions, frames[1].positions);
    assert_eq!(back[0].numbers, frames[0].numbers);

    let missing = dir.path().join("missing.xyz");
    match read_xyz_file(&missing) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("missing.xyz")),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // Errors from a file name the file by its path.
    let broken = dir.path().join("broken.xyz");
    std::fs::write(&broken, "1\nc\nH 0 0\n").unwrap();
    let err = read_xyz_file(&broken).unwrap_err();
    assert!(err.to_string().starts_with(&format!("{}:3: ", broken.display())), "{err}");

    // The iterator yields frames one at a time, then the error, then nothing.
    let text = format!("{ASE_FRAMES}1\ncomment\nXx 0 0 0\n{ASE_FRAMES}");
    let mut it = XyzFrames::new(text.as_bytes(), "stream");
    assert_eq!(it.next().unwrap().unwrap(), frames[0]);
    assert_eq!(it.next().unwrap().unwrap(), frames[1]);
    assert!(it.next().unwrap().unwrap_err().to_string().contains("stream:12: atom 1: unknown element 'Xx'"));
    assert!(it.next().is_none());
    assert!(read_xyz(text.as_bytes(), "stream").is_err());
}

/// Parses `text`, expecting a parse error in `bad.xyz` at `line` whose message contains `phrase`.
#[track_caller]
fn assert_parse_error(text: &str, line: usize, phrase: &str) {
    match read_xyz_str(text, "bad.xyz") {
        Err(Error::Parse { location, message }) => {
            assert_eq!(location.file, "bad.xyz");
            assert_eq!((location.line, message.contains(phrase)), (line, true), "message: {message}");
        }
        other => panic!("expected a parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn malformed_input_gives_located_parse_errors() {
    // Truncated: reported at the last line there is.
    assert_parse_error("3\nwater\nO 0 0 0\nH 0 1 0\n", 4, "ends after 2 of 3 atom lines");
    assert_parse_error("3\n", 1, "expected a comment line");
    assert_parse_error("2\nok\nH 0 0 0\nH 0 0 1\n5\nsecond\nC 0 0 0\n", 7, "frame starting at line 5");
    assert_parse_error("1000000000000\nhuge\nH 0 0 0\n", 3, "ends after 1 of 1000000000000");
    assert_parse_error("2\nc\nH 0 0 0\n\nH 0 0 1\n", 4, "blank line where atom 2 of 2 was expected");
    // Atom counts.
    assert_parse_error("three\nc\n", 1, "expected the number of atoms");
    assert_parse_error("-1\nc\n", 1, "found '-1'");
    assert_parse_error("1\nc\nH 0 0 0\n\n2 atoms\n", 5, "found '2 atoms'");
    // Columns and fields.
    assert_parse_error("1\nc\nH 0 0\n", 3, "expected 4 columns (species x y z), found 3");
    assert_parse_error("1\nc\nH 0 0 0 0.5\n", 3, "found 5");
    assert_parse_error(
        "2\nc\nH 0 0 0\nH 0 x 0\n",
        4,
        "atom 2, column 3 ('pos', component 2 of 3): expected a real number",
    );
    assert_parse_error("1\nc\nH 0 0 nan\n", 3, "column 4 ('pos', component 3 of 3): expected a finite coordinate");
    // Fuzzing: a column name the writer could not write back (`]` would start an array value).
    assert_parse_error("1\nProperties=species:S:1:pos:R:3:f]rces:R:3\nH 0 0 0 1 2 3\n", 2, "column name 'f]rces'");
    // Fuzzing: a carriage return inside the comment line (in a quoted value or the name), which the
    // writer could not write back.
    assert_parse_error("1\npbc=\"T\rF F\"\nH 0 0 0\n", 2, "carriage return");
    assert_parse_error("1\nwater\rice\nH 0 0 0\n", 2, "carriage return");
    assert_parse_error("1\n[]=1\nH 0 0 0\n", 2, "an empty key");
    assert_parse_error("1\npbc=\"F F F\" name\nH 0 0 0\n", 2, "'name' needs a value");
    assert_parse_error("1\nc\nH inf 0 0\n", 3, "expected a finite coordinate, found 'inf'");
    let props = "Properties=species:S:1:pos:R:3:forces:R:3:tag:I:1:fix:L:1";
    assert_parse_error(&format!("1\n{props}\nH 0 0 0 0 1.x 0 1 T\n"), 3, "column 6 ('forces', component 2 of 3)");
    assert_parse_error(&format!("1\n{props}\nH 0 0 0 0 0 0 1.5 T\n"), 3, "column 8 ('tag'): expected an integer");
    assert_parse_error(&format!("1\n{props}\nH 0 0 0 0 0 0 1 yes\n"), 3, "column 9 ('fix'): expected a logical value");
    assert_parse_error(&format!("1\n{props}\nH 0 0 0 0 0 0 1\n"), 3, "expected 9 columns (species:S:1:pos:R:3:");
    // Elements.
    assert_parse_error("2\nc\nH 0 0 0\nXx 0 0 0\n", 4, "atom 2: unknown element 'Xx'");
    assert_parse_error("1\nc\n119 0 0 0\n", 3, "unknown element '119'");
    assert_parse_error("1\nProperties=Z:I:1:pos:R:3\n0 0 0 0\n", 3, "unknown element '0'");
    // The comment line.
    assert_parse_error("1\nLattice=\"1 0 0 0 1 0 0 0\"\nH 0 0 0\n", 2, "malformed Lattice: expected 9 finite numbers");
    assert_parse_error("1\nLattice=\"1 0 0 0 1 0 0 0 x\"\nH 0 0 0\n", 2, "malformed Lattice");
    assert_parse_error("1\nLattice=\"1 0 0 0 1 0 0 0 nan\"\nH 0 0 0\n", 2, "malformed Lattice");
    assert_parse_error("1\na=1 pbc=\"T T\"\nH 0 0 0\n", 2, "malformed pbc");
    assert_parse_error("1\nProperties=species:S:1:pos:R\nH 0 0 0\n", 2, "name:type:count triples");
    assert_parse_error("1\nProperties=species:S:1:pos:X:3\nH 0 0 0\n", 2, "unknown type 'X'");
    assert_parse_error("1\nProperties=species:S:1:pos:R:0\nH 0 0 0\n", 2, "count '0'");
    assert_parse_error("1\nProperties=species:S:1:position:R:3\nH 0 0 0\n", 2, "no pos:R:3 column");
    assert_parse_error("1\nProperties=pos:R:3:q:R:1\nH 0 0 0\n", 2, "neither a species:S:1 nor a Z:I:1");
    assert_parse_error("1\nProperties=species:S:1:pos:R:3:pos:R:3\nH 0 0 0\n", 2, "'pos' appears twice");
    assert_parse_error("1\nname=\"unterminated\nH 0 0 0\n", 2, "unterminated '\"'");
    assert_parse_error("1\na=1 pbc=\"T T T\"\nH 0 0 0\n", 2, "periodic along [true, true, true] but has no cell");
    assert_parse_error("1\nLattice=\"1 0 0 1 0 0 0 0 1\"\nH 0 0 0\n", 2, "singular");
    // Encoding.
    let mut bytes = b"1\nc\nH 0 0 0\n1\n".to_vec();
    bytes.extend(b"\xff\xfe\n");
    match read_xyz(&bytes[..], "bad.xyz") {
        Err(Error::Parse { location, message }) => {
            assert_eq!((location.line, message.as_str()), (5, "the line is not valid UTF-8"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn writer_refuses_what_extxyz_cannot_hold() {
    let base = Structure::molecule(vec![1], vec![[0.0; 3]]).unwrap();
    let fails = |s: Structure, phrase: &str| {
        let mut sink = Vec::new();
        match write_extxyz(&mut sink, &[s]) {
            Err(Error::Invalid(m)) => assert!(m.contains(phrase), "{m}"),
            other => panic!("expected an Invalid error containing {phrase:?}, got {other:?}"),
        }
    };
    let mut s = base.clone();
    s.properties.insert("note".into(), Property::Str("two\nlines".into()));
    fails(s, "property 'note' contains a line break");
    for key in ["name", "PBC", "lattice", "Properties", ""] {
        let mut s = base.clone();
        s.properties.insert(key.into(), Property::Int(1));
        fails(s, "cannot be written as an extended-XYZ key");
    }
    // Keys the reader accepts only quoted are written quoted (found by fuzzing: `Fatt}S:1:1.5`).
    let mut s = base.clone();
    for key in ["a b", "x=y", "Fatt}S:1:1.5", "q\"uote"] {
        s.properties.insert(key.into(), Property::Int(1));
    }
    assert_eq!(read_xyz_str(&extxyz_string(std::slice::from_ref(&s)), "keys.xyz").unwrap()[0].properties, s.properties);
    for name in ["pos", "species", "a:b", "with space"] {
        let mut s = base.clone();
        s.atom_arrays.insert(name.into(), real(1, vec![1.0]));
        fails(s, "cannot be an extended-XYZ column name");
    }
    let mut s = base.clone();
    s.atom_arrays.insert("label".into(), AtomArray::Str { width: 1, data: vec!["a b".into()] });
    fails(s, "non-empty strings without whitespace");
    let mut s = base.clone();
    s.positions[0][1] = f64::NAN;
    fails(s, "non-finite coordinate");
    let mut s = base.clone();
    s.name = "a\nb".into();
    fails(s.clone(), "the name contains a line break");
    assert!(matches!(write_xyz(Vec::new(), &[s]), Err(Error::Invalid(_))));
}

// ---------------------------------------------------------------------------------------------
// Property-based round trip

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -100.0..100.0f64,
        prop::num::f64::NORMAL,
        prop::num::f64::SUBNORMAL,
        prop::num::f64::ZERO,
        (-5i32..5).prop_map(f64::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}".prop_filter("reserved", |k| {
        k != "name" && !["lattice", "pbc", "properties"].contains(&k.to_ascii_lowercase().as_str())
    })
}

fn property() -> impl Strategy<Value = Property> {
    prop_oneof![
        finite().prop_map(Property::Float),
        any::<i64>().prop_map(Property::Int),
        any::<bool>().prop_map(Property::Bool),
        // A leading letter other than t/f/e/i/n keeps the text from reading as a number or a logical value.
        "s[ -~]{0,12}".prop_map(Property::Str),
        prop::collection::vec(finite(), 1..6).prop_map(Property::FloatArray),
        prop::collection::vec(any::<i64>(), 1..6).prop_map(Property::IntArray),
        prop::collection::vec(any::<bool>(), 1..5).prop_map(Property::BoolArray),
    ]
}

prop_compose! {
    fn structure()(n in 0usize..6)(
        numbers in prop::collection::vec(1u8..=118, n),
        positions in prop::collection::vec([finite(), finite(), finite()], n),
        (width, reals) in (1usize..4).prop_flat_map(move |w| (Just(w), prop::collection::vec(finite(), n * w))),
        ints in prop::option::of(prop::collection::vec(any::<i64>(), n)),
        array_name in "[a-z][a-z0-9_]{0,6}".prop_filter("reserved", |k| k != "pos" && k != "species"),
        cell in prop::option::of(([1.0..20.0f64, -0.5..0.5f64, -0.5..0.5f64], [-0.5..0.5f64, 1.0..20.0f64, -0.5..0.5f64],
                                  [-0.5..0.5f64, -0.5..0.5f64, 1.0..20.0f64])),
        pbc in any::<[bool; 3]>(),
        name in prop_oneof![Just(String::new()), "[ -~]{1,12}"],
        properties in prop::collection::btree_map(key(), property(), 0..5),
    ) -> Structure {
        let mut atom_arrays = BTreeMap::new();
        atom_arrays.insert(array_name, AtomArray::Real { width, data: reals });
        if let Some(data) = ints {
            atom_arrays.insert("tags".to_string(), AtomArray::Int { width: 1, data });
        }
        let cell = cell.map(|(a, b, c)| [a, b, c]);
        let pbc = if cell.is_some() { pbc } else { [false; 3] };
        Structure { name, numbers, positions, cell, pbc, atom_arrays, properties }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_structures_round_trip_exactly(structures in prop::collection::vec(structure(), 1..4)) {
        for s in &structures {
            prop_assert!(s.validate().is_ok(), "generator made an invalid structure: {:?}", s.validate());
        }
        let text = extxyz_string(&structures);
        let back = read_xyz_str(&text, "random.extxyz").unwrap();
        prop_assert_eq!(&back, &structures, "text:\n{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[0-9a-zA-Z \"'=\\[\\]{}:.,\\\\\n-]{0,200}") {
        match read_xyz_str(&text, "fuzz.xyz") {
            Ok(_) | Err(Error::Parse { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }
}

#[test]
fn ase_slab_with_zero_third_vector_reads_and_round_trips() {
    // ASE writes 2-D systems with a zero c vector and pbc="T T F".
    let text =
        "2\nLattice=\"2.5 0 0 0 2.5 0 0 0 0\" Properties=species:S:1:pos:R:3 pbc=\"T T F\"\nC 0 0 0\nC 1.25 1.25 0.3\n";
    let s = &read_xyz_str(text, "slab.extxyz").unwrap()[0];
    assert_eq!(s.pbc, [true, true, false]);
    let mut out = Vec::new();
    write_extxyz(&mut out, std::slice::from_ref(s)).unwrap();
    assert_eq!(&read_xyz_str(std::str::from_utf8(&out).unwrap(), "again").unwrap()[0], s);
    let edges = chem_graph::radius_graph(s, &chem_graph::RadiusOptions::new(2.6)).unwrap();
    // In-plane images at 2.5 Å (4 per atom) and the other atom's 4 nearest images at 1.79 Å.
    assert_eq!(edges.in_degrees(2), vec![8, 8]);
    assert!(edges.shift.iter().all(|s| s[2] == 0));
}

#[test]
fn input_without_any_frame_is_an_error_naming_the_file() {
    for text in ["", "\n  \n"] {
        let err = chem_graph::xyz::read_xyz_str(text, "empty.xyz").unwrap_err().to_string();
        assert!(err.contains("empty.xyz") && err.contains("no structure"), "{err}");
    }
}
