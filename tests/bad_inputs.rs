//! Every malformed input a user can give the CLI ends in exit status 2 and a message naming the
//! file (and line, entry or tensor) and what was expected. The cases, with the messages chemgnn
//! gives today, are the table in `docs/bad_inputs.md`; this test fails when that table is out of
//! date (`CHEMGNN_BLESS=1 cargo test --test bad_inputs` rewrites it).

use std::path::Path;
use std::process::Command;

use gnn_layers::candle::{safetensors, Device, Tensor};

/// One malformed input: the files to create, the command, and what the message must contain.
struct Case {
    what: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<&'static str>,
    expect: &'static [&'static str],
}

fn text(name: &'static str, content: &str) -> (&'static str, Vec<u8>) {
    (name, content.as_bytes().to_vec())
}

const MODEL: &str = "tests/fixtures/models/pyg_schnet_default";

const CONFIG: &str = "epochs = 1\nbatch_size = 4\n[model]\nkind = \"schnet\"\nhidden_channels = 8\nnum_filters = 8\n\
                      num_interactions = 1\nnum_gaussians = 5\ncutoff = 4.0\n";

fn xyz_config(extra: &str) -> String {
    format!("{CONFIG}[split]\ntrain = 1\nval = 1\ntest = 1\n[data]\ndataset = \"data.extxyz\"\ntargets = [\"energy\"]\n{extra}")
}

/// A three-crystal MatBench table (rock salt) whose second target is `second` (JSON text).
fn matbench_table(second: &str) -> String {
    let nacl = r#"{"lattice": {"matrix": [[5.64, 0, 0], [0, 5.64, 0], [0, 0, 5.64]]}, "sites": [{"species": [{"element": "Na", "occu": 1}], "abc": [0, 0, 0]}, {"species": [{"element": "Cl", "occu": 1}], "abc": [0.5, 0.5, 0.5]}]}"#;
    format!(
        r#"{{"index": ["mb-1", "mb-2", "mb-3"], "columns": ["structure", "e_form"], "data": [[{nacl}, -1.0], [{nacl}, {second}], [{nacl}, -1.2]]}}"#
    )
}

fn matbench_config() -> String {
    format!("{CONFIG}[split]\ntrain = 1\nval = 1\ntest = 1\n[data]\ndataset = \"table.json\"\n")
}

fn safetensors_bytes(tensors: &[(&str, Tensor)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let map: std::collections::HashMap<String, Tensor> =
        tensors.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
    safetensors::save(&map, &path).unwrap();
    std::fs::read(path).unwrap()
}

/// The PyG SchNet fixture's state dict with `lin.weight` cut to the wrong shape.
fn misshaped_weights() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(MODEL).join("state_dict.safetensors");
    let mut tensors: Vec<(String, Tensor)> = safetensors::load(path, &Device::Cpu).unwrap().into_iter().collect();
    for (name, t) in &mut tensors {
        if name == "lin1.weight" {
            *t = t.narrow(0, 0, 3).unwrap();
        }
    }
    let refs: Vec<(&str, Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    safetensors_bytes(&refs)
}

fn cases() -> Vec<Case> {
    let water = "3\nwater\nO 0 0 0\nH 0.76 0.59 0\nH -0.76 0.59 0\n";
    let frames = |energy: &str, force: &str| {
        let frame = |e: &str, f: &str| {
            format!("2\nProperties=species:S:1:pos:R:3:forces:R:3 energy={e}\nH 0 0 0 0 0 {f}\nH 0 0 0.74 0 0 0\n")
        };
        frame("-1.0", "0.1") + &frame(energy, force) + &frame("-1.2", "0.3")
    };
    vec![
        Case { what: "empty XYZ file", files: vec![text("empty.xyz", "")], args: vec!["data", "info", "empty.xyz"], expect: &["empty.xyz:1", "no structure"] },
        Case { what: "XYZ truncated inside a frame", files: vec![text("cut.xyz", "3\nwater\nO 0 0 0\nH 0 1 0\n")], args: vec!["data", "info", "cut.xyz"], expect: &["cut.xyz:4", "ends after 2 of 3 atom lines"] },
        Case { what: "XYZ coordinate that is not a number", files: vec![text("x.xyz", "1\nc\nH 0 x 0\n")], args: vec!["data", "info", "x.xyz"], expect: &["x.xyz:3", "expected a real number"] },
        Case { what: "XYZ NaN coordinate", files: vec![text("nan.xyz", "1\nc\nH 0 0 nan\n")], args: vec!["data", "info", "nan.xyz"], expect: &["nan.xyz:3", "finite coordinate"] },
        Case { what: "unknown element", files: vec![text("xx.xyz", "1\nc\nXx 0 0 0\n")], args: vec!["data", "info", "xx.xyz"], expect: &["xx.xyz:3", "Xx"] },
        Case { what: "atom count larger than the file", files: vec![text("huge.xyz", "1000000000000\nhuge\nH 0 0 0\n")], args: vec!["data", "info", "huge.xyz"], expect: &["huge.xyz:3", "1000000000000"] },
        Case { what: "extended-XYZ Properties without pos", files: vec![text("props.extxyz", "1\nProperties=species:S:1:forces:R:3\nH 0 0 0\n")], args: vec!["data", "info", "props.extxyz"], expect: &["props.extxyz:2", "pos"] },
        Case { what: "extended-XYZ singular Lattice", files: vec![text("cell.extxyz", "1\nLattice=\"1 0 0 1 0 0 0 0 1\"\nH 0 0 0\n")], args: vec!["data", "info", "cell.extxyz"], expect: &["cell.extxyz:2", "singular"] },
        Case { what: "QM9 file cut short", files: vec![text("dsgdb9nsd_000001.xyz", "5\ngdb 1\t157.7\n")], args: vec!["data", "info", "dsgdb9nsd_000001.xyz"], expect: &["dsgdb9nsd_000001.xyz"] },
        Case { what: "qm9pack table with a foreign header", files: vec![text("qm9_part1.csv", "a,b,c\n1,2,3\n")], args: vec!["data", "info", "qm9_part1.csv"], expect: &["qm9_part1.csv"] },
        Case { what: "file of unknown type", files: vec![text("mol.txt", water)], args: vec!["data", "info", "mol.txt"], expect: &["mol.txt", "unknown file type"] },
        Case { what: "missing file", files: vec![], args: vec!["data", "info", "absent.xyz"], expect: &["absent.xyz"] },
        Case { what: "CIF without cell lengths", files: vec![text("nocell.cif", "data_x\n_cell_angle_alpha 90\nloop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nNa 0 0 0\n")], args: vec!["crystal", "info", "nocell.cif"], expect: &["nocell.cif", "_cell_length_a"] },
        Case { what: "POSCAR with a negative atom count", files: vec![text("POSCAR", "x\n1.0\n3 0 0\n0 3 0\n0 0 3\nNa\n-1\nDirect\n0 0 0\n")], args: vec!["crystal", "info", "POSCAR"], expect: &["POSCAR:7"] },
        Case { what: "pymatgen JSON that is not a structure", files: vec![text("s.json", "{\"lattice\": 5}")], args: vec!["crystal", "info", "s.json"], expect: &["s.json"] },
        Case { what: "training config with an unknown key", files: vec![text("run.toml", &format!("{CONFIG}learning_rte = 0.1\n"))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["run.toml", "learning_rte"] },
        Case { what: "training config with a negative learning rate", files: vec![text("run.toml", &format!("{CONFIG}[optimizer]\nlr = -1.0\n"))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["run.toml", "lr"] },
        Case { what: "training config in broken JSON", files: vec![text("run.json", "{\"epochs\": 2,")], args: vec!["train", "--config", "run.json", "--out", "run"], expect: &["run.json"] },
        Case { what: "model too large to train in memory", files: vec![text("run.toml", &CONFIG.replace("hidden_channels = 8", "hidden_channels = 1000000000000"))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["needs", "more than the AVAILABLE of memory available"] },
        Case { what: "training set empty after splitting", files: vec![text("data.extxyz", &frames("-1.1", "0.2")), text("run.toml", &xyz_config("").replace("train = 1", "train = 0"))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["split", "0 train"] },
        Case { what: "NaN target in a dataset", files: vec![text("data.extxyz", &frames("nan", "0.2")), text("run.toml", &xyz_config(""))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["data.extxyz frame 2", "energy", "not a finite number"] },
        Case { what: "infinite force in a dataset", files: vec![text("data.extxyz", &frames("-1.1", "inf")), text("run.toml", &xyz_config("forces = \"forces\"\n"))], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["data.extxyz frame 2", "forces", "atom 1"] },
        Case { what: "MatBench table with a null target", files: vec![text("table.json", &matbench_table("null")), text("run.toml", &matbench_config())], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["table.json", "entry"] },
        Case { what: "MatBench table with a NaN target (as Python's json module writes it)", files: vec![text("table.json", &matbench_table("NaN")), text("run.toml", &matbench_config())], args: vec!["train", "--config", "run.toml", "--out", "run"], expect: &["table.json", "NaN"] },
        Case { what: "resuming a directory that is not a run", files: vec![text("notes/readme.txt", "x")], args: vec!["train", "--resume", "notes"], expect: &["notes/config.json", "not a run directory"] },
        Case { what: "import arguments that are not JSON", files: vec![text("args.json", "{hidden: 3}"), ("w.safetensors", safetensors_bytes(&[("x", Tensor::zeros(2, gnn_layers::candle::DType::F32, &Device::Cpu).unwrap())]))], args: vec!["import", "--from", "pyg", "--model", "schnet", "--config", "args.json", "w.safetensors", "--out", "m"], expect: &["args.json", "not valid JSON"] },
        Case { what: "truncated safetensors file", files: vec![text("args.json", "{}"), ("w.safetensors", safetensors_bytes(&[("x", Tensor::zeros(64, gnn_layers::candle::DType::F32, &Device::Cpu).unwrap())])[..40].to_vec())], args: vec!["import", "--from", "pyg", "--model", "schnet", "--config", "args.json", "w.safetensors", "--out", "m"], expect: &["w.safetensors"] },
        Case { what: "weight tensor of the wrong shape", files: vec![text("args.json", "{}"), ("w.safetensors", misshaped_weights())], args: vec!["import", "--from", "pyg", "--model", "schnet", "--config", "args.json", "w.safetensors", "--out", "m"], expect: &["w.safetensors", "lin1.weight"] },
        Case { what: "checkpoint directory without a model", files: vec![text("model/readme.txt", "x")], args: vec!["predict", "--model", "model", "water.xyz"], expect: &["model"] },
        Case { what: "element the model has no embedding for", files: vec![text("og.xyz", "1\nc\nOg 0 0 0\n")], args: vec!["predict", "--model", "@schnet", "og.xyz"], expect: &["og.xyz", "118"] },
        Case { what: "unknown --split", files: vec![], args: vec!["eval", "--model", "@schnet", "qm9-sample", "--split", "all"], expect: &["invalid value 'all' for '--split"] },
    ]
}

/// Runs `case` in a fresh directory; returns the exit status and the message (first line of
/// standard error without `error: `, plus the next lines when they hold details).
fn run(case: &Case, model: &Path) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &case.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let args: Vec<String> =
        case.args.iter().map(|a| if *a == "@schnet" { model.display().to_string() } else { a.to_string() }).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_chemgnn"))
        .args(&args)
        .current_dir(dir.path())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("chemgnn runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .skip_while(|l| !l.starts_with("error: "))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .replace(&model.display().to_string(), "MODEL");
    (out.status.code().unwrap_or(-1), without_memory_size(&message))
}

/// `message` with the machine's free memory (which differs between runs) replaced by `AVAILABLE`.
fn without_memory_size(message: &str) -> String {
    let (start, end) = ("more than the ", " of memory available");
    match (message.find(start), message.find(end)) {
        (Some(a), Some(b)) if a + start.len() <= b => {
            format!("{}AVAILABLE{}", &message[..a + start.len()], &message[b..])
        }
        _ => message.to_string(),
    }
}

fn render(rows: &[(String, String, i32, String)]) -> String {
    let mut doc = String::from(
        "# Bad input and the messages it gives\n\n\
         Each row is a malformed input given to the `chemgnn` command line, run from the directory \
         that holds the files, and the message chemgnn printed (after `error: `). Every one exits \
         with status 2 (bad input); status 1 is kept for failures that are not the input's fault \
         (a write that fails on a full disk, a diverging training run), 101 for a panic (a bug). \
         `MODEL` is the PyG SchNet fixture imported as a chemgnn checkpoint.\n\n\
         The table is produced by `tests/bad_inputs.rs`, which fails when a message changes; \
         `CHEMGNN_BLESS=1 cargo test --test bad_inputs` rewrites it. The readers are also fuzzed \
         (`fuzz/README.md`).\n\n\
         | input | command | status | message |\n|---|---|---|---|\n",
    );
    for (what, command, code, message) in rows {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        doc += &format!("| {what} | `{}` | {code} | {} |\n", cell(command), cell(message));
    }
    doc
}

#[test]
fn every_bad_input_names_its_source_and_exits_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("schnet");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(MODEL);
    let import = Command::new(env!("CARGO_BIN_EXE_chemgnn"))
        .args(["import", "--from", "pyg", "--model", "schnet", "--target", "U0", "--config"])
        .arg(fixture.join("args.json"))
        .arg(fixture.join("state_dict.safetensors"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for case in cases() {
        let (code, message) = run(&case, &model);
        if code != 2 || !case.expect.iter().all(|e| message.contains(e)) {
            problems.push(format!("{}: status {code}, message {message:?}, expected {:?}", case.what, case.expect));
        }
        rows.push((case.what.to_string(), format!("chemgnn {}", case.args.join(" ")), code, message));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let doc = render(&rows);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bad_inputs.md");
    if std::env::var_os("CHEMGNN_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(recorded == doc, "docs/bad_inputs.md is out of date: run `CHEMGNN_BLESS=1 cargo test --test bad_inputs`");
}
