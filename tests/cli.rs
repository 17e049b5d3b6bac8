//! End-to-end tests of the `chemgnn` binary.

use std::process::Command;

fn chemgnn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chemgnn")).args(args).output().expect("chemgnn runs")
}

#[test]
fn data_info_on_the_embedded_sample() {
    let out = chemgnn(&["data", "info", "qm9-sample", "--json", "--cutoff", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v[0];
    assert_eq!(s["structures"], 3000);
    assert_eq!(s["periodic"], 0);
    assert!(s["elements"]["C"].as_u64().unwrap() > 10_000);
    assert!(s["properties"]["U0_atom"] == 3000 && s["properties"]["gap"] == 3000);
    let per_atom = s["neighbors"]["neighbors_per_atom"]["mean"].as_f64().unwrap();
    assert!((10.0..20.0).contains(&per_atom), "{per_atom}");
}

#[test]
fn data_info_on_an_extxyz_file_and_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("si.extxyz");
    std::fs::write(
        &good,
        "2\nLattice=\"0 2.715 2.715 2.715 0 2.715 2.715 2.715 0\" Properties=species:S:1:pos:R:3 energy=-10.8 pbc=\"T T T\"\n\
         Si 0 0 0\nSi 1.3575 1.3575 1.3575\n",
    )
    .unwrap();
    let out = chemgnn(&["data", "info", good.to_str().unwrap(), "--cutoff", "2.5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("structures: 1 (1 periodic)"), "{text}");
    // Diamond silicon: 4 nearest neighbours at 2.35 Å.
    assert!(text.contains("8 edges; per atom min 4, mean 4.00, max 4"), "{text}");

    let out = chemgnn(&["data", "info", good.to_str().unwrap(), "--cutoff=nan"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cutoff must be a finite distance"));

    let missing = dir.path().join("missing.xyz");
    let out = chemgnn(&["data", "info", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("missing.xyz: "), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "the cause is printed once: {err}");

    let bad = dir.path().join("bad.xyz");
    std::fs::write(&bad, "2\ncomment\nC 0 0 0\nXx 1 1 1\n").unwrap();
    let out = chemgnn(&["data", "info", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.xyz:4") && err.contains("unknown element 'Xx'"), "{err}");
}

#[test]
fn help_lists_every_model_and_importer() {
    let text = |args: &[&str]| {
        let out = chemgnn(args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (top, train, import) = (text(&["--help"]), text(&["train", "--help"]), text(&["import", "--help"]));
    for kind in gnn_models::models::KINDS {
        if gnn_models::ModelConfig::preset(kind.name).is_some() {
            assert!(top.contains(kind.name), "chemgnn --help lacks {}: {top}", kind.name);
            assert!(
                train.contains(kind.name) && train.contains(kind.help),
                "train --help lacks {}: {train}",
                kind.name
            );
        }
    }
    for command in ["predict", "eval", "serve"] {
        let help = text(&[command, "--help"]);
        for kind in gnn_models::models::KINDS {
            assert!(help.contains(kind.name) && help.contains(kind.help), "{command} --help lacks {}", kind.name);
        }
    }
    for importer in gnn_models::checkpoint::import::IMPORTERS {
        let row = format!("--from {:<11} --model {:<17} {}", importer.source, importer.kind, importer.reads);
        assert!(import.contains(&row), "import --help lacks `{row}`: {import}");
        assert!(top.contains(importer.source), "chemgnn --help lacks {}: {top}", importer.source);
    }
}
