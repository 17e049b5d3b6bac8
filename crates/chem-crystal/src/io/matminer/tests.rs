use super::*;

const FLLA_HEADER: &str = "# ref: a comment line\nmaterial_id,formula,e_above_hull,nsites,structure,formation_energy_per_atom,formation_energy\n";

fn flla_row(id: &str, structure: &str) -> String {
    format!("{id},\"{{'As': 1.0}}\",0.1,2,\"{structure}\",0.25,0.5\n")
}

const AS2: &str = "{'lattice': {'matrix': [[3.35275227, 0.0, 1.93571242], [1.11758409, 3.16100515, 1.93571242], [0.0, 0.0, 3.87142485]], 'a': 3.87}, '@class': 'Structure', 'sites': [{'label': 'As', 'properties': {'coordination_no': 6}, 'abc': [0.25, 0.25, 0.25], 'species': [{'occu': 1, 'element': 'As'}]}, {'label': 'As', 'properties': {'coordination_no': 6}, 'abc': [0.75, 0.75, 0.75], 'species': [{'occu': 1, 'element': 'As'}]}], 'x': None, 'y': True}";

const POSCAR: &str = "Ag1 I1\n1.0\n4.066724 0.000000 2.347924\n1.355575 3.834144 2.347924\n0.000000 0.000000 4.695849\nAg I\n1 1\ndirect\n0.000000 0.000000 0.000000 Ag\n0.250000 0.250000 0.250000 I\n";

fn piezo(rows: &[(&str, &str, &str)]) -> String {
    let mut text = "# ref: x\nidx,eij_max,structure,poscar,material_id\n".to_string();
    for (k, (eij, poscar, id)) in rows.iter().enumerate() {
        text += &format!(
            "{k},{k},{eij},\"#generated using pymatgen\ndata_AgI\n_cell_length_a 4.7, x\",\"{poscar}\",{id}\n"
        );
    }
    text
}

fn flla() -> MatminerSet {
    MATMINER_SETS[0]
}

fn parse(set: MatminerSet, text: &str) -> Result<MatminerTable> {
    MatminerTable::parse(set, text.as_bytes(), "x.csv", &ReadOptions::default())
}

fn error(set: MatminerSet, text: &str) -> String {
    parse(set, text).unwrap_err().to_string()
}

#[test]
fn reads_python_literal_structures() {
    let text = FLLA_HEADER.to_string() + &flla_row("mp-10", AS2) + &flla_row("mp-11", AS2);
    let t = parse(flla(), &text).unwrap();
    assert_eq!(t.structures.len(), 2);
    let s = &t.structures[1];
    assert_eq!((s.name.as_str(), s.numbers.as_slice()), ("mp-11", &[33, 33][..]));
    assert_eq!(s.property_f64("formation_energy_per_atom"), Some(0.25));
    assert_eq!(s.property_f64("e_above_hull"), Some(0.1));
    let p = s.positions[1];
    assert!((p[0] - 3.35275227).abs() < 1e-9 && (p[2] - 5.8071372675).abs() < 1e-9, "{p:?}");

    let d = t.matbench("e_above_hull").unwrap();
    assert_eq!((d.ids.clone(), d.targets.clone()), (vec!["mp-10".to_string(), "mp-11".into()], vec![0.1, 0.1]));
    assert!(d.structures[0].properties.keys().eq(["e_above_hull"]));
    assert!(t.matbench("formation_energy").unwrap_err().to_string().contains("not a target of flla_2015"));
}

#[test]
fn skips_the_unnamed_index_and_reads_poscars() {
    let set = MATMINER_SETS[3];
    let t = parse(set, &piezo(&[("0.09", POSCAR, "mp-22925"), ("1.5", POSCAR, "mp-1")])).unwrap();
    assert_eq!(t.structures[0].name, "mp-22925");
    assert_eq!(t.structures[1].property_f64("eij_max"), Some(1.5));
    assert_eq!(t.structures[0].numbers, vec![47, 53]);
}

#[test]
fn malformed_input_names_file_line_and_column() {
    let set = MATMINER_SETS[3];
    for (text, want) in [
        (
            FLLA_HEADER.replace(",structure,", ",cif,"),
            "x.csv:2: the header has no \"structure\" column (set flla_2015)",
        ),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-10", &AS2[..40]),
            "x.csv:3: column \"structure\" (mp-10): expected ',' or ']' at character 40",
        ),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-10", &AS2.replace("'As'}]", "'Xx'}]")),
            "x.csv:3: column \"structure\" (mp-10): site 0: unknown element",
        ),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-10", AS2).replace("0.25", "n/a"),
            "x.csv:3: column \"formation_energy_per_atom\" (mp-10): \"n/a\" is not a finite number",
        ),
        (FLLA_HEADER.to_string() + "mp-10,1,2\n", "x.csv:3: the row has 3 fields but the header names 7"),
        (FLLA_HEADER.to_string() + &flla_row("", AS2), "x.csv:3: the \"material_id\" column is empty"),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-1", "{'lattice'"),
            "x.csv:3: column \"structure\" (mp-1): expected ':' after a dict key",
        ),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-1", "[1, 2]"),
            "x.csv:3: column \"structure\" (mp-1): expected a pymatgen structure dict",
        ),
        (
            FLLA_HEADER.to_string() + &flla_row("mp-1", AS2) + "# a comment, mid-file\n" + &flla_row("mp-2", "{}"),
            "x.csv:5: column \"structure\" (mp-2): no \"lattice\" object",
        ),
        (String::new(), "x.csv"),
    ] {
        let err = error(flla(), &text);
        assert!(err.contains(want), "{want}\n  got: {err}");
    }
    let err = error(set, &piezo(&[("0.1", POSCAR, "mp-1"), ("0.2", &POSCAR.replace("1 1\n", "1 x\n"), "mp-2")]));
    assert!(err.starts_with("x.csv:") && err.contains("column \"poscar\" (mp-2): POSCAR line 7:"), "{err}");
    let err = error(set, &piezo(&[("0.1", &POSCAR.replace("0.250000 0.250000 0.250000", "0 0 0.01"), "mp-3")]));
    assert!(err.contains("column \"poscar\" (mp-3): ") && err.contains("closer"), "{err}");
    let bad_utf8 = [FLLA_HEADER.as_bytes(), b"mp-1,\xff\xfe,1,2,x,1,1\n"].concat();
    let err = MatminerTable::parse(flla(), &bad_utf8, "x.csv", &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("x.csv:3: the text is not valid UTF-8"), "{err}");
}
