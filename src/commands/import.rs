//! `chemgnn import`: a PyTorch state_dict (safetensors) plus constructor arguments → a native
//! checkpoint directory.

use std::path::PathBuf;

use anyhow::Context;
use chem_graph::qm9::Qm9Target;
use clap::builder::PossibleValuesParser;
use clap::Args;
use gnn_models::checkpoint::import::{
    default_target, import, import_file, import_gate_points, pretrained, Source, IMPORTERS,
};
use gnn_models::{StateDict, Target};

/// `--from` values: the frameworks of [`IMPORTERS`].
fn sources() -> PossibleValuesParser {
    let mut names: Vec<&str> = IMPORTERS.iter().map(|i| i.source).collect();
    names.sort_unstable();
    names.dedup();
    PossibleValuesParser::new(names)
}

/// `--model` values: the kinds of [`IMPORTERS`].
fn kinds() -> PossibleValuesParser {
    let mut names: Vec<&str> = IMPORTERS.iter().map(|i| i.kind).collect();
    names.sort_unstable();
    names.dedup();
    PossibleValuesParser::new(names)
}

/// The one-line help of `chemgnn import`, naming every framework of [`IMPORTERS`].
pub fn about() -> String {
    let mut sources: Vec<&str> = IMPORTERS.iter().map(|i| i.source).collect();
    sources.sort_unstable();
    sources.dedup();
    format!("Import a checkpoint ({}) as a native chemgnn checkpoint", sources.join(", "))
}

/// The list of importers under the help text.
fn importers_help() -> String {
    let rows: Vec<String> =
        IMPORTERS.iter().map(|i| format!("  --from {:<11} --model {:<17} {}", i.source, i.kind, i.reads)).collect();
    let names: Vec<String> = pretrained::PRETRAINED
        .iter()
        .map(|p| format!("  --from {:<11} {:<25} {} ({})", p.source, p.name, p.about, p.requirement))
        .collect();
    format!("Importers:\n{}\n\nPretrained by name:\n{}", rows.join("\n"), names.join("\n"))
}

#[derive(Args)]
#[command(after_help = importers_help())]
pub struct ImportArgs {
    /// The library the weights were trained with.
    #[arg(long, value_parser = sources())]
    from: String,
    /// The architecture (implied for sevenn and chgnet, whose files say what they hold).
    #[arg(long, value_parser = kinds())]
    model: Option<String>,
    /// JSON object of the Python constructor's keyword arguments (e.g. {"hidden_channels": 64,
    /// "cutoff": 6.0, "mean": …}); for schnetpack also `mean`/`atomref` if not in the weights; for
    /// kgcnn the `make_model` keyword dictionary (e.g. `model_default` as JSON). Not for sevenn and
    /// chgnet, whose files hold their configuration.
    #[arg(long, value_name = "ARGS.json")]
    config: Option<PathBuf>,
    /// The state_dict saved with safetensors (`save_file(model.state_dict(), …)` or `save_model`);
    /// for kgcnn `{w.name: w.numpy() for w in model.weights}`. For sevenn and chgnet the checkpoint
    /// file itself (`checkpoint_sevennet_0.pth`, `chgnet_0.3.0_e29f68s314m37.pth.tar`), their
    /// package's wheel (`sevenn-0.13.0-py3-none-any.whl`: its SevenNet-0), or a pretrained name
    /// fetched with `pip download --no-deps` of the pinned release (SHA-256 checked) into
    /// $CHEMGNN_DATA_DIR/pretrained (else data/cache/pretrained); names below.
    #[arg(value_name = "STATE_DICT.safetensors")]
    state_dict: PathBuf,
    /// Output checkpoint directory.
    #[arg(long)]
    out: PathBuf,
    /// Name of the predicted quantity [default: energy for SchNet, mu for the dipole variant and the
    /// MPNN, e_form for coGN/coNGN]; QM9 names (U0, gap, …) imply their unit.
    #[arg(long)]
    target: Option<String>,
    /// Unit of the predictions (required for names that are neither QM9 targets nor `energy`; for
    /// e3nn networks it defaults to `1`). For e3nn networks `--target` takes one name per output
    /// component, separated by commas [default: y0, y1, …].
    #[arg(long)]
    unit: Option<String>,
    /// e3nn networks: the elements (symbols or atomic numbers, comma-separated, in order) whose
    /// one-hot encoding is the `Nx0e` node input and/or attribute, e.g. `H,C,N,O,F`.
    #[arg(long, value_delimiter = ',')]
    elements: Vec<String>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let source: Source = args.from.parse()?;
    if source.self_describing() {
        return import_self_describing(&args, source);
    }
    let model = args.model.as_deref().with_context(|| format!("--from {} needs --model", args.from))?;
    if !IMPORTERS.iter().any(|i| i.source == args.from && i.kind == model) {
        let from: Vec<&str> = IMPORTERS.iter().filter(|i| i.kind == model).map(|i| i.source).collect();
        anyhow::bail!("no importer of {model} models from {} (they come from: {})", args.from, from.join(", "));
    }
    let config = args.config.as_ref().with_context(|| format!("--from {} needs --config ARGS.json", args.from))?;
    let text = std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let arguments: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", config.display()))?;
    let weights = StateDict::read(&args.state_dict)?;
    if source == Source::E3nn {
        return import_e3nn(&args, config, &arguments, weights);
    }
    let origin = config.display().to_string();
    let mut checkpoint = import(source, model, &arguments, &origin, weights, vec![])?;
    let default_name = default_target(&checkpoint.config.model);
    checkpoint.config.targets = vec![target(args.target.as_deref().unwrap_or(default_name), args.unit)?];
    checkpoint.save(&args.out)?;
    let parameters: usize = checkpoint.weights.tensors.values().map(|t| t.elem_count()).sum();
    println!(
        "imported {} {} ({} tensors, {parameters} values) predicting {} [{}] → {}",
        format!("{source:?}").to_lowercase(),
        model,
        checkpoint.weights.tensors.len(),
        checkpoint.config.targets[0].name,
        checkpoint.config.targets[0].unit,
        args.out.display()
    );
    Ok(())
}

/// `--from e3nn --model gate-points-2101`.
fn import_e3nn(
    args: &ImportArgs,
    config: &std::path::Path,
    arguments: &serde_json::Value,
    weights: StateDict,
) -> anyhow::Result<()> {
    let elements = args
        .elements
        .iter()
        .map(|e| {
            e.trim()
                .parse::<u8>()
                .ok()
                .filter(|&z| chem_graph::element::by_number(z).is_some())
                .or_else(|| chem_graph::element::by_symbol(e.trim()).map(|el| el.z))
                .with_context(|| format!("--elements: `{e}` is not an element symbol or atomic number"))
        })
        .collect::<anyhow::Result<Vec<u8>>>()?;
    let origin = config.display().to_string();
    let names = args.target.as_ref().map(|t| t.split(',').map(|n| n.trim().to_string()).collect());
    let unit = args.unit.as_deref().unwrap_or("1");
    let checkpoint = import_gate_points(arguments, &origin, weights, elements, names, unit)?;
    let count = checkpoint.config.targets.len();
    checkpoint.save(&args.out)?;
    let parameters: usize = checkpoint.weights.tensors.values().map(|t| t.elem_count()).sum();
    println!(
        "imported e3nn gate-points-2101 ({} tensors, {parameters} values) predicting {count} values → {}",
        checkpoint.weights.tensors.len(),
        args.out.display()
    );
    Ok(())
}

/// `--from sevenn|chgnet SOURCE`: a file, wheel or name ([`pretrained::resolve`]) holding the
/// architecture and the weights.
fn import_self_describing(args: &ImportArgs, source: Source) -> anyhow::Result<()> {
    let kind = IMPORTERS.iter().find(|i| i.source == args.from).map_or("", |i| i.kind);
    if args.model.as_deref().is_some_and(|m| m != kind) || args.config.is_some() {
        anyhow::bail!(
            "--from {} reads the architecture from its file: give neither --config nor another --model",
            args.from
        );
    }
    let given = args.state_dict.to_string_lossy();
    let file = pretrained::resolve(&args.from, &given, &pretrained::default_cache_dir(), &mut |m| eprintln!("{m}"))?;
    let checkpoint = import_file(source, &file)?;
    checkpoint.save(&args.out)?;
    let parameters: usize = checkpoint.weights.tensors.values().map(|t| t.elem_count()).sum();
    println!(
        "imported {} {kind} ({} tensors, {parameters} values) predicting energy [eV] → {}",
        args.from,
        checkpoint.weights.tensors.len(),
        args.out.display()
    );
    Ok(())
}

fn target(name: &str, unit: Option<String>) -> anyhow::Result<Target> {
    let known = match Qm9Target::from_name(name) {
        Ok(t) => Some(t.unit().to_string()),
        Err(_) if name == "energy" => Some("eV".to_string()),
        Err(_) if name == "e_form" => Some("eV/atom".to_string()),
        Err(_) => None,
    };
    let unit = unit.or(known).with_context(|| format!("give --unit for the target `{name}`"))?;
    Ok(Target { name: name.into(), unit })
}
