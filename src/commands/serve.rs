//! `chemgnn serve --ipi ADDRESS`: a client of the i-PI socket protocol, so that i-PI, ASE's
//! `SocketIOCalculator` or any other i-PI server drives MD or optimisation with a chemgnn model.
//!
//! The protocol: the server sends 12-byte ASCII headers (`STATUS`, `INIT`, `POSDATA`, `GETFORCE`,
//! `EXIT`); positions and the cell come in Bohr (the cell as its transpose, row-major), the energy,
//! forces and virial go back in Hartree, Hartree/Bohr and Hartree. The atoms' elements are not sent:
//! they come from `--structure`, whose periodicity decides whether the cell is used (and the virial
//! `−V·σ` computed). The radius graph is kept between steps (a Verlet list with `--skin`).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use chem_graph::{Structure, VerletList};
use clap::Args;
use gnn_models::gnn_layers::candle::Device;
use gnn_models::Model;

use super::data::load_structures;
use gnn_models::Precision;

/// Bohr in Å and Hartree in eV, as ASE (CODATA 2014) defines them, so that a run driven by ASE's
/// `SocketIOCalculator` converts back exactly.
const BOHR: f64 = 0.529_177_210_563_841_1;
const HARTREE: f64 = 27.211_386_024_367_243;

#[derive(Args)]
#[command(after_help = super::model_kinds_help())]
pub struct ServeArgs {
    /// Checkpoint directory (an energy model in eV, with forces: SchNet, L0Net/L1Net, gate_points).
    #[arg(long)]
    model: PathBuf,
    /// The atoms (their elements, order and periodicity): any structure file chemgnn reads, first
    /// structure.
    #[arg(long)]
    structure: String,
    /// The server: `unix:NAME` (the socket /tmp/ipi_NAME, as i-PI and ASE name it) or `HOST:PORT`.
    #[arg(long)]
    ipi: String,
    /// Float precision of the model.
    #[arg(long, value_enum, default_value = "f64")]
    precision: Precision,
    /// Verlet skin in Å: the neighbour list is searched again when an atom moved more than half of it.
    #[arg(long, default_value_t = 1.0)]
    skin: f64,
}

/// A connection to the server (Unix or TCP socket).
trait Connection: Read + Write {}
impl<T: Read + Write> Connection for T {}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let model = Model::load_on(&args.model, args.precision.dtype(), &Device::Cpu)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let unit = &model.config().targets[0].unit;
    if unit != "eV" {
        bail!("{}: the model predicts {unit}, but i-PI exchanges energies (eV models only)", args.model.display());
    }
    let template = load_structures(&args.structure)?
        .into_iter()
        .next()
        .with_context(|| format!("{}: no structure", args.structure))?;
    let mut stream = connect(&args.ipi)?;
    eprintln!("chemgnn serve: {} atoms from {}, connected to {}", template.numbers.len(), args.structure, args.ipi);
    Client::new(model, template, args.skin).serve(&mut stream)
}

/// How long the client waits for the server's socket to appear (a client is often started
/// alongside the server).
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

fn connect(address: &str) -> anyhow::Result<Box<dyn Connection>> {
    if let Some(name) = address.strip_prefix("unix:") {
        #[cfg(unix)]
        {
            let path = format!("/tmp/ipi_{name}");
            let stream = patiently(|| std::os::unix::net::UnixStream::connect(&path))
                .with_context(|| format!("connecting to {path}"))?;
            return Ok(Box::new(stream));
        }
        #[cfg(not(unix))]
        bail!("unix:{name}: Unix sockets are not available here; give HOST:PORT");
    }
    let stream = patiently(|| std::net::TcpStream::connect(address))
        .with_context(|| format!("connecting to {address} (expected unix:NAME or HOST:PORT)"))?;
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}

/// `connect()`, retried while the server is not listening yet, for at most [`CONNECT_PATIENCE`].
fn patiently<T>(connect: impl Fn() -> std::io::Result<T>) -> std::io::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match connect() {
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused)
                    && start.elapsed() < CONNECT_PATIENCE =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// The client's state between messages.
struct Client {
    model: Model,
    structure: Structure,
    list: Option<VerletList>,
    initialised: bool,
    /// The reply to GETFORCE: energy (Ha), forces (Ha/Bohr, flat), virial (Ha, 3 × 3 row-major).
    result: Option<(f64, Vec<f64>, [f64; 9])>,
}

impl Client {
    fn new(model: Model, structure: Structure, skin: f64) -> Self {
        let list = model.verlet_list(skin);
        Self { model, structure, list, initialised: false, result: None }
    }

    fn serve(&mut self, stream: &mut dyn Connection) -> anyhow::Result<()> {
        loop {
            let header = match read_header(stream)? {
                Some(h) => h,
                None => return Ok(()), // the server closed the connection
            };
            match header.as_str() {
                "STATUS" => {
                    let status = match (self.initialised, self.result.is_some()) {
                        (false, _) => "NEEDINIT",
                        (true, false) => "READY",
                        (true, true) => "HAVEDATA",
                    };
                    write_header(stream, status)?;
                }
                "INIT" => {
                    let _bead = read_i32(stream)?;
                    let length = read_i32(stream)?;
                    let mut init = vec![0; usize::try_from(length).context("INIT: negative length")?];
                    stream.read_exact(&mut init)?;
                    self.initialised = true;
                }
                "POSDATA" => {
                    let cell_t = read_f64s(stream, 9)?;
                    let _inverse = read_f64s(stream, 9)?;
                    let atoms = read_i32(stream)?;
                    if atoms as usize != self.structure.numbers.len() {
                        bail!("the server sent {atoms} atoms, the structure has {}", self.structure.numbers.len());
                    }
                    let positions = read_f64s(stream, 3 * atoms as usize)?;
                    self.result = Some(self.compute(&cell_t, &positions)?);
                }
                "GETFORCE" => {
                    let (energy, forces, virial) = self.result.take().context("GETFORCE before POSDATA")?;
                    write_header(stream, "FORCEREADY")?;
                    write_f64s(stream, &[energy])?;
                    stream.write_all(&((forces.len() / 3) as i32).to_le_bytes())?;
                    write_f64s(stream, &forces)?;
                    // Sent transposed, as the cell; the virial is symmetric.
                    write_f64s(stream, &virial)?;
                    stream.write_all(&1i32.to_le_bytes())?;
                    stream.write_all(&[0])?;
                    stream.flush()?;
                }
                "EXIT" => return Ok(()),
                other => bail!("unexpected i-PI message `{other}`"),
            }
        }
    }

    /// Energy, forces and virial in atomic units for positions and a transposed cell in Bohr.
    fn compute(&mut self, cell_t: &[f64], positions: &[f64]) -> anyhow::Result<(f64, Vec<f64>, [f64; 9])> {
        let s = &mut self.structure;
        for (p, r) in s.positions.iter_mut().zip(positions.chunks_exact(3)) {
            *p = [r[0] * BOHR, r[1] * BOHR, r[2] * BOHR];
        }
        if s.is_periodic() {
            s.cell = Some(std::array::from_fn(|i| std::array::from_fn(|j| cell_t[3 * j + i] * BOHR)));
        }
        let prediction = match &mut self.list {
            Some(list) => self.model.predict_with_verlet(s, list)?,
            None if s.is_periodic() => self.model.predict_with_stress(std::slice::from_ref(s), 1)?.remove(0),
            None => self.model.predict_structures(std::slice::from_ref(s), true, 1)?.remove(0),
        };
        let forces = prediction.forces.context("the model gives no forces")?;
        let forces = forces.iter().flatten().map(|f| f * BOHR / HARTREE).collect();
        let mut virial = [0.0; 9];
        if let (Some(stress), Some(cell)) = (prediction.stress, s.cell) {
            let volume = chem_graph::structure::determinant(&cell).abs();
            let [xx, yy, zz, yz, xz, xy] = stress;
            let full = [xx, xy, xz, xy, yy, yz, xz, yz, zz];
            for (v, sigma) in virial.iter_mut().zip(full) {
                *v = -volume * sigma / HARTREE;
            }
        }
        Ok((prediction.values[0] / HARTREE, forces, virial))
    }
}

fn read_header(stream: &mut dyn Connection) -> anyhow::Result<Option<String>> {
    let mut header = [0u8; 12];
    match stream.read_exact(&mut header) {
        Ok(()) => Ok(Some(String::from_utf8_lossy(&header).trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write_header(stream: &mut dyn Connection, message: &str) -> anyhow::Result<()> {
    stream.write_all(format!("{message:<12}").as_bytes())?;
    stream.flush()?;
    Ok(())
}

fn read_i32(stream: &mut dyn Connection) -> anyhow::Result<i32> {
    let mut bytes = [0u8; 4];
    stream.read_exact(&mut bytes)?;
    Ok(i32::from_le_bytes(bytes))
}

fn read_f64s(stream: &mut dyn Connection, count: usize) -> anyhow::Result<Vec<f64>> {
    let mut bytes = vec![0u8; 8 * count];
    stream.read_exact(&mut bytes)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|b| {
            let mut value = [0u8; 8];
            value.copy_from_slice(b);
            f64::from_le_bytes(value)
        })
        .collect())
}

fn write_f64s(stream: &mut dyn Connection, values: &[f64]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    stream.write_all(&bytes)?;
    Ok(())
}
