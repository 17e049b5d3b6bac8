//! The training loop: [`train`] starts a run, [`resume`] continues one exactly where it stopped.
//!
//! Per step: batch → forward → loss over scaled residuals (plus forces and stress) → backward →
//! gradient clipping → Adam(W) of the parameters not frozen → EMA. Per epoch: validation,
//! schedule, best checkpoint, `last/` state, metrics line. At the end: test metrics with the best
//! weights, plots and `summary.json`. A run may start from a checkpoint (fine-tuning,
//! [`crate::config::FinetuneConfig`]).

use crate::config::TrainConfig;
use crate::dataset::{open_dataset, read_samples, Dataset, TargetInfo};
use crate::ema::Ema;
use crate::error::{Error, Result};
use crate::finetune::{frozen_parameters, read_init, refit_species_shifts};
use crate::loader::{epoch_order, GraphSource, Prepared};
use crate::loss::residual_loss;
use crate::memory;
use crate::metrics::{Accumulator, Metrics};
use crate::normalization::Normalization;
use crate::optim::{clip_global_norm, global_norm, Adam};
use crate::progress::{human_error, EpochProgress, Verbosity};
use crate::run_dir::{self, EpochRecord, RunDir, Saved, TrainerState};
use crate::schedule::Schedule;
use crate::split::Split;
use crate::{plot, Summary};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use chem_crystal::io::matbench_splits::{default_splits_path, MatbenchSplits};
use gnn_layers::autograd::enable_higher_order_gradients;
use gnn_layers::GraphTensors;
use gnn_models::checkpoint::{CheckpointConfig, Provenance, FORMAT_VERSION};
use gnn_models::potential::stress::derivatives;
use gnn_models::{initial_weights, Checkpoint, Network, StateDict, Target};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How a run is driven from outside.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// What to print.
    pub verbosity: Verbosity,
    /// Set (e.g. by a Ctrl-C handler) to save the state and stop after the current batch.
    pub stop: Arc<AtomicBool>,
    /// Stop as if interrupted after this many optimiser steps in total.
    pub stop_after_steps: Option<u64>,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All epochs done.
    Completed,
    /// The validation loss stopped improving.
    EarlyStopping,
    /// Stopped from outside; `--resume` continues.
    Interrupted,
}

/// Starts a run of `config` in the new directory `out` (applying chemgnn's runtime policy,
/// [`gnn_layers::runtime::init`]).
pub fn train(config: TrainConfig, out: &Path, options: &RunOptions) -> Result<Summary> {
    gnn_layers::runtime::init();
    let mut config = config;
    let init = config.finetune.init.as_ref().map(|dir| read_init(Path::new(dir))).transpose()?;
    if let Some(init) = &init {
        config.model = init.config.model.clone();
    }
    config.validate().map_err(|e| Error::config("configuration", e))?;
    let bytes_per_value = config.precision.bytes();
    let needed = memory::training_state_bytes(&config.model, bytes_per_value, config.ema_decay.is_some())?;
    memory::check_fits(needed, memory::available_memory())?;
    let dataset: Arc<dyn Dataset> = open_dataset(&config.data)?.into();
    for (key, present, what) in
        [(&config.data.forces, dataset.has_forces(), "forces"), (&config.data.stress, dataset.has_stress(), "stress")]
    {
        if let Some(key) = key.as_ref().filter(|_| !present) {
            return Err(Error::Data(format!("{}: the dataset has no {what} (`{key}`) to train on", dataset.name())));
        }
    }
    let split = match config.split.matbench_fold {
        Some(fold) => {
            let ids = (0..dataset.len()).map(|i| Ok(dataset.sample(i)?.structure.name)).collect::<Result<Vec<_>>>()?;
            let path = default_splits_path();
            let splits = MatbenchSplits::read(&path)
                .map_err(|e| Error::Data(format!("{e} (run `chemgnn data fetch matbench-splits` first)")))?;
            Split::matbench(&config.split, &dataset.name(), &ids, &splits, fold, config.seed)?
        }
        None => Split::new(&config.split, &dataset.name(), dataset.len(), config.seed)?,
    };
    let train_samples = read_samples(dataset.as_ref(), &split.train)?;
    let norm = Normalization::fit(&config.normalization, &config.model, dataset.targets(), &train_samples)?;
    // A model from a checkpoint keeps its own scaling: the statistics only set the loss scales.
    let refit_default = init.is_some() && dataset.targets()[0].extensive && config.model.species_shifts().is_some();
    let mut weights = match init {
        Some(init) => init.weights,
        None => {
            norm.configure(&mut config.model, config.normalization.standardize)?;
            let mut weights = initial_weights(&config.model, config.seed)?;
            if let (Some(r), Some(w)) = (&norm.targets[0].atomref, weights.tensors.get_mut("atomref.weight")) {
                *w = Tensor::from_vec(r.iter().map(|&v| v as f32).collect(), (r.len(), 1), &Device::Cpu)?;
            }
            weights
        }
    };
    // Bad freeze patterns are reported before the run directory is made.
    frozen_parameters(&config.finetune.freeze, gnn_models::expected_tensors(&config.model)?.0.keys())?;
    if config.finetune.refit_shifts.unwrap_or(refit_default) {
        let (dtype, device) = (config.precision.dtype(), config.device.device()?);
        let graph_options = config.data.graph_options();
        let shifts = refit_species_shifts(&config.model, &mut weights, &train_samples, &graph_options, dtype, &device)?;
        if options.verbosity != Verbosity::Silent {
            let shown: Vec<String> = shifts.iter().map(|(z, d)| format!("Z={z} {d:+.6}")).collect();
            eprintln!("energy shifts refitted on the training split: {}", shown.join(", "));
        }
    }
    drop(train_samples);
    let run = RunDir::create(out)?;
    run.write_json(run_dir::CONFIG, &config)?;
    run.write(run_dir::SPLIT, &split.to_json())?;
    run.write_json(run_dir::NORMALIZATION, &norm)?;
    let mut session = Session::new(config, run, dataset, split, norm, weights, options)?;
    session.save_last()?;
    session.run.publish(out)?;
    session.run()
}

/// Continues the run in `dir` from its `last/` state; the result is identical to a run that was
/// never interrupted. Applies the runtime policy as [`train`] does.
pub fn resume(dir: &Path, options: &RunOptions) -> Result<Summary> {
    gnn_layers::runtime::init();
    let run = RunDir::open(dir)?;
    let config: TrainConfig = run.read_json(run_dir::CONFIG)?;
    config.validate().map_err(|e| Error::config(run.file(run_dir::CONFIG).display(), e))?;
    let split: Split = Split::read(&run.file(run_dir::SPLIT))?;
    let norm: Normalization = run.read_json(run_dir::NORMALIZATION)?;
    let dataset: Arc<dyn Dataset> = open_dataset(&config.data)?.into();
    split.check(dataset.len(), &run.file(run_dir::SPLIT))?;
    let saved = run.load_last()?;
    if saved.checkpoint.config.model != config.model {
        return Err(Error::state(&run.file(run_dir::LAST), "the saved model does not match config.json"));
    }
    let mut session = Session::new(config, run, dataset, split, norm, saved.checkpoint.weights.clone(), options)?;
    session.restore(saved)?;
    session.run()
}

/// Everything a run holds while it trains.
struct Session<'o> {
    config: TrainConfig,
    run: RunDir,
    dataset: Arc<dyn Dataset>,
    split: Split,
    norm: Normalization,
    /// The trained parameters.
    vars: Vec<(String, Var)>,
    /// Frozen parameters and buffers: never updated.
    frozen: BTreeMap<String, Tensor>,
    network: Network,
    optimizer: Adam,
    ema: Option<Ema>,
    schedule: Schedule,
    state: TrainerState,
    dtype: DType,
    device: Device,
    options: &'o RunOptions,
    started: Instant,
}

/// A finished batch's loss and predictions.
struct BatchResult {
    loss: Tensor,
    predicted: Vec<Vec<f64>>,
    forces: Option<Vec<f64>>,
    stress: Option<Vec<f64>>,
}

impl<'o> Session<'o> {
    fn new(
        config: TrainConfig,
        run: RunDir,
        dataset: Arc<dyn Dataset>,
        split: Split,
        norm: Normalization,
        weights: StateDict,
        options: &'o RunOptions,
    ) -> Result<Self> {
        let device = config.device.device()?;
        let dtype = config.precision.dtype();
        if dataset.has_forces() || config.data.forces.is_some() || config.data.stress.is_some() {
            enable_higher_order_gradients();
        }
        let (required, buffers) = gnn_models::expected_tensors(&config.model)?;
        weights.check(&required, &buffers)?;
        let frozen_names = frozen_parameters(&config.finetune.freeze, required.keys())?;
        let (mut vars, mut frozen) = (Vec::new(), BTreeMap::new());
        for (name, t) in &weights.tensors {
            let t = t.to_dtype(dtype)?.to_device(&device)?;
            if required.contains_key(name) && !frozen_names.contains(name) {
                vars.push((name.clone(), Var::from_tensor(&t)?));
            } else {
                frozen.insert(name.clone(), t);
            }
        }
        if options.verbosity != Verbosity::Silent {
            let count = |ts: &mut dyn Iterator<Item = &Tensor>| ts.map(Tensor::elem_count).sum::<usize>();
            let trained = count(&mut vars.iter().map(|(_, v)| v.as_tensor()));
            let fixed = count(&mut frozen.iter().filter(|(n, _)| required.contains_key(*n)).map(|(_, t)| t));
            eprintln!("parameters: {trained} trainable, {fixed} frozen");
        }
        let mut tensors: BTreeMap<String, Tensor> = frozen.clone();
        tensors.extend(vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())));
        let network = build_network(&config, tensors, dtype, &device)?;
        let optimizer = Adam::new(&config.optimizer, vars.clone())?;
        let ema = config.ema_decay.map(|d| Ema::new(d, &vars)).transpose()?;
        let steps_per_epoch = split.train.len().div_ceil(config.batch_size);
        let schedule = Schedule::new(&config.schedule, config.optimizer.lr, steps_per_epoch, config.epochs);
        let state = TrainerState {
            epoch: 0,
            batch: 0,
            step: 0,
            schedule: schedule.state.clone(),
            best: None,
            epochs_without_improvement: 0,
            epoch_loss: (0.0, 0),
            epoch_train_seconds: 0.0,
            history: vec![],
        };
        Ok(Self {
            config,
            run,
            dataset,
            split,
            norm,
            vars,
            frozen,
            network,
            optimizer,
            ema,
            schedule,
            state,
            dtype,
            device,
            options,
            started: Instant::now(),
        })
    }

    /// Loads optimiser, EMA and progress from a saved state.
    fn restore(&mut self, saved: Saved) -> Result<()> {
        let path = self.run.file(run_dir::LAST);
        self.optimizer.load_state(&saved.optimizer, saved.state.step).map_err(|e| Error::state(&path, e))?;
        if let Some(ema) = &mut self.ema {
            ema.load_state(&saved.optimizer).map_err(|e| Error::state(&path, e))?;
        }
        self.schedule.state = saved.state.schedule.clone();
        self.state = saved.state;
        self.run.write_metrics(&self.state.history)?;
        Ok(())
    }

    fn run(&mut self) -> Result<Summary> {
        let cached: Vec<usize> = if self.config.cache_graphs {
            [&self.split.train, &self.split.val, &self.split.test].into_iter().flatten().copied().collect()
        } else {
            vec![]
        };
        let count_atoms = self.config.max_atoms_per_batch.is_some() && !self.config.cache_graphs;
        let source = GraphSource::with_options(
            &self.config.model,
            &self.config.data.graph_options(),
            self.dataset.clone(),
            &cached,
            count_atoms,
        )?;
        if let Some(warning) = source.p1_warning() {
            eprintln!("{warning}");
        }
        let mut stopped = StopReason::Completed;
        while self.state.epoch < self.config.epochs {
            if !self.train_epoch(&source)? {
                stopped = StopReason::Interrupted;
                break;
            }
            if self.end_epoch(&source)? {
                stopped = StopReason::EarlyStopping;
                break;
            }
        }
        self.finish(&source, stopped)
    }

    /// Trains the rest of the current epoch; `false` when stopped from outside.
    fn train_epoch(&mut self, source: &GraphSource) -> Result<bool> {
        let order = epoch_order(&self.split.train, self.config.seed, self.state.epoch);
        let batches = source.batches(&order, self.config.batch_size, self.config.max_atoms_per_batch);
        let progress = EpochProgress::start(
            self.options.verbosity,
            self.state.epoch,
            self.config.epochs,
            batches.len(),
            self.state.batch,
        );
        let mut interrupted = false;
        let start = self.state.batch.min(batches.len());
        source.prefetch(&batches[start..], self.prefetch_dtype(), |k, batch| {
            let t0 = Instant::now();
            self.train_step(&batch, &batches[start + k], &progress)?;
            let seconds = t0.elapsed().as_secs_f64();
            self.state.epoch_train_seconds += seconds;
            let (sum, n) = self.state.epoch_loss;
            progress.batch(sum / n.max(1) as f64, batch.targets.len() as f64 / seconds);
            let stop_requested = self.options.stop.load(Ordering::SeqCst)
                || self.options.stop_after_steps.is_some_and(|s| self.state.step >= s);
            interrupted = stop_requested && self.state.batch < batches.len();
            Ok(!stop_requested)
        })?;
        progress.finish();
        if interrupted {
            self.save_last()?;
            progress.println(&format!(
                "interrupted at epoch {} batch {}: state saved; continue with `chemgnn train --resume {}`",
                self.state.epoch + 1,
                self.state.batch,
                self.run.path.display()
            ));
        }
        Ok(!interrupted)
    }

    /// Whether prefetched batches are turned into (host) tensors on the prefetch thread: on GPUs,
    /// so that this work overlaps the GPU's; on the CPU it would only compete with the compute
    /// threads.
    fn prefetch_dtype(&self) -> Option<DType> {
        (!self.device.is_cpu()).then_some(self.dtype)
    }

    /// One optimiser step on `batch` (the dataset's structures `indices`).
    fn train_step(&mut self, batch: &Prepared, indices: &[usize], progress: &EpochProgress) -> Result<()> {
        let lr = self.schedule.lr(self.state.step);
        self.optimizer.set_lr(lr);
        let result = self.forward(&self.network, batch, true)?;
        // The backward pass is queued before the loss is read, so that the GPU has work meanwhile.
        let grads = result.loss.backward()?;
        let loss = result.loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let mut grads: Vec<Option<Tensor>> = self.vars.iter().map(|(_, v)| grads.get(v.as_tensor()).cloned()).collect();
        let norm = global_norm(&grads)?;
        if !loss.is_finite() || !norm.is_finite() {
            self.save_last()?;
            let message = format!(
                "the loss became {} at epoch {} batch {} (step {}; structures {}): stopped without applying the \
                 step. The last good state is in {}, the best model in {}; lower the learning rate or set \
                 clip_grad_norm.",
                if loss.is_finite() { "finite with a non-finite gradient".to_string() } else { loss.to_string() },
                self.state.epoch + 1,
                self.state.batch + 1,
                self.state.step + 1,
                self.describe(indices),
                self.run.file(run_dir::LAST).display(),
                self.run.file(run_dir::BEST).display()
            );
            progress.println(&message);
            return Err(Error::NonFinite(message));
        }
        if let Some(max) = self.config.clip_grad_norm {
            clip_global_norm(&mut grads, norm, max)?;
        }
        self.optimizer.step(&grads)?;
        if let Some(ema) = &mut self.ema {
            ema.update(&self.vars)?;
        }
        self.state.step += 1;
        self.state.batch += 1;
        self.state.epoch_loss.0 += loss * batch.targets.len() as f64;
        self.state.epoch_loss.1 += batch.targets.len();
        Ok(())
    }

    /// The structures `indices` as `index (name)`, at most five and a count.
    fn describe(&self, indices: &[usize]) -> String {
        let named: Vec<String> = indices
            .iter()
            .take(5)
            .map(|&i| match self.dataset.sample(i) {
                Ok(s) if !s.structure.name.is_empty() => format!("{i} ({})", s.structure.name),
                _ => i.to_string(),
            })
            .collect();
        let more = indices.len().saturating_sub(named.len());
        named.join(", ") + &if more > 0 { format!(" and {more} more") } else { String::new() }
    }

    /// The loss of `batch` under `network`; forces and stress are taken when the dataset has them
    /// (differentiable in the parameters when `training`).
    fn forward(&self, network: &Network, batch: &Prepared, training: bool) -> Result<BatchResult> {
        let g = &match &batch.tensors {
            Some(host) => host.to_device(&self.device)?,
            None => GraphTensors::new(&batch.graphs, self.dtype, &self.device)?,
        };
        let with_forces = batch.forces.is_some() && self.norm.forces_scale.is_some();
        let with_stress = batch.stress.is_some() && self.norm.stress_scale.is_some();
        let d = derivatives(network, &batch.graphs, g, with_forces, with_stress, training)?;
        let (n, t) = (batch.targets.len(), self.norm.targets.len());
        let tensor = |v: Vec<f64>, shape: (usize, usize)| -> candle_core::Result<Tensor> {
            Tensor::from_vec(v, shape, &self.device)?.to_dtype(self.dtype)
        };
        let y = tensor(batch.targets.concat(), (n, t))?;
        let scales = tensor(self.norm.scales(), (1, t))?;
        let residual = d.energy.sub(&y)?.broadcast_div(&scales)?;
        let loss_cfg = &self.config.loss;
        let term = |predicted: &Tensor, reference: &[f64], scale: f64, weight: f64| -> Result<(Tensor, Vec<f64>)> {
            let predicted = predicted.to_dtype(self.dtype)?;
            let r = predicted.sub(&tensor(reference.to_vec(), predicted.dims2()?)?)?.affine(1.0 / scale, 0.0)?;
            let loss = residual_loss(loss_cfg.kind, loss_cfg.huber_delta, &r)?.affine(weight, 0.0)?;
            Ok((loss, predicted.detach().to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?))
        };
        let mut loss =
            residual_loss(loss_cfg.kind, loss_cfg.huber_delta, &residual)?.affine(loss_cfg.energy_weight, 0.0)?;
        let mut predicted_forces = None;
        if let (Some(reference), Some(scale), Some(f)) = (&batch.forces, self.norm.forces_scale, &d.forces) {
            let (term, values) = term(f, reference, scale, loss_cfg.forces_weight)?;
            loss = (loss + term)?;
            predicted_forces = Some(values);
        }
        let mut predicted_stress = None;
        if let (Some(reference), Some(scale), Some(s)) = (&batch.stress, self.norm.stress_scale, &d.stress) {
            let (term, values) = term(s, reference, scale, loss_cfg.stress_weight)?;
            loss = (loss + term)?;
            predicted_stress = Some(values);
        }
        let predicted = d.energy.detach().to_dtype(DType::F64)?.to_vec2::<f64>()?;
        Ok(BatchResult { loss, predicted, forces: predicted_forces, stress: predicted_stress })
    }

    /// The network with the weights used for evaluation (EMA averages when enabled), detached
    /// from autograd.
    fn eval_network(&self) -> Result<Network> {
        build_network(&self.config, self.weights(true), self.dtype, &self.device)
    }

    /// The current weights (frozen ones included), detached from autograd, on the training
    /// device; the EMA averages of the trained ones instead when `averaged` and enabled.
    fn weights(&self, averaged: bool) -> BTreeMap<String, Tensor> {
        let mut out = self.frozen.clone();
        out.extend(self.vars.iter().enumerate().map(|(k, (name, var))| {
            let t = match (&self.ema, averaged) {
                (Some(ema), true) => ema.shadow[k].clone(),
                _ => var.as_tensor().detach(),
            };
            (name.clone(), t)
        }));
        out
    }

    /// Loss and errors of `network` on `indices`.
    fn evaluate(&self, network: &Network, source: &GraphSource, indices: &[usize]) -> Result<(Metrics, Accumulator)> {
        let mut acc = Accumulator::default();
        let batches = source.batches(indices, self.config.eval_batch_size, None);
        source.prefetch(&batches, self.prefetch_dtype(), |_, batch| {
            let r = self.forward(network, &batch, false)?;
            let loss = r.loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            let forces = r.forces.as_deref().zip(batch.forces.as_deref());
            acc.add(&r.predicted, &batch.targets, loss, forces);
            if let (Some(p), Some(a)) = (&r.stress, &batch.stress) {
                acc.add_stress(p, a);
            }
            Ok(true)
        })?;
        Ok((acc.finish(self.dataset.targets()), acc))
    }

    /// Validation, schedule, checkpoints and the metrics line; `true` when early stopping fires.
    fn end_epoch(&mut self, source: &GraphSource) -> Result<bool> {
        let t0 = Instant::now();
        let network = self.eval_network()?;
        let (val, _) = self.evaluate(&network, source, &self.split.val)?;
        let epoch = self.state.epoch + 1;
        let improved = self.state.best.is_none_or(|(best, _)| val.loss < best);
        if improved {
            self.state.best = Some((val.loss, epoch));
            self.state.epochs_without_improvement = 0;
            self.run.save_best(&self.checkpoint(self.weights(true))?)?;
        } else {
            self.state.epochs_without_improvement += 1;
        }
        self.schedule.end_epoch(val.loss);
        let train_seconds = self.state.epoch_train_seconds;
        let (sum, n) = self.state.epoch_loss;
        let record = EpochRecord {
            epoch,
            step: self.state.step,
            lr: self.schedule.lr(self.state.step),
            train_loss: sum / n.max(1) as f64,
            val,
            train_seconds,
            epoch_seconds: train_seconds + t0.elapsed().as_secs_f64(),
            molecules_per_s: n as f64 / train_seconds.max(1e-9),
        };
        if self.options.verbosity != Verbosity::Silent {
            eprintln!("{}", epoch_line(&record, self.config.epochs, self.dataset.targets()));
        }
        self.state.history.push(record);
        self.state.schedule = self.schedule.state.clone();
        self.state.epoch += 1;
        self.state.batch = 0;
        self.state.epoch_loss = (0.0, 0);
        self.state.epoch_train_seconds = 0.0;
        self.save_last()?;
        self.run.write_metrics(&self.state.history)?;
        Ok(self.config.early_stopping_patience.is_some_and(|p| self.state.epochs_without_improvement >= p))
    }

    /// Test metrics with the best weights, plots and the summary.
    fn finish(&mut self, source: &GraphSource, stopped: StopReason) -> Result<Summary> {
        // Without the graph cache, asymmetric units were built batch by batch: report at the end.
        if let Some(warning) = source.p1_warning().filter(|_| !self.config.cache_graphs) {
            eprintln!("{warning}");
        }
        let network = if let Some(best_dir) = self.run.checkpoint_dir(run_dir::BEST) {
            let best = Checkpoint::read(&best_dir)?;
            Network::new(&self.config.model, best.weights.var_builder(self.dtype, &self.device)?)?
        } else {
            self.eval_network()?
        };
        let (test, acc) = self.evaluate(&network, source, &self.split.test)?;
        plot::learning_curve(&self.run.file(run_dir::LEARNING_CURVE), &self.state.history)?;
        let first = &self.dataset.targets()[0];
        plot::parity(&self.run.file(run_dir::TEST_PARITY), &acc.pairs, &first.name, &first.unit)?;
        let epochs_run = self.state.history.len();
        let summary = Summary {
            test,
            best_epoch: self.state.best.map(|b| b.1),
            best_val_loss: self.state.best.map(|b| b.0),
            epochs_run,
            steps: self.state.step,
            seconds: self.started.elapsed().as_secs_f64(),
            seconds_per_epoch: self.state.history.iter().map(|r| r.train_seconds).sum::<f64>()
                / epochs_run.max(1) as f64,
            stopped,
            run_dir: self.run.path.display().to_string(),
        };
        self.run.write_json(run_dir::SUMMARY, &summary)?;
        Ok(summary)
    }

    /// Writes `last/` from the current state.
    fn save_last(&self) -> Result<()> {
        let (mut optimizer, _) = self.optimizer.state();
        optimizer.extend(self.ema.iter().flat_map(Ema::state));
        self.run.save_last(&Saved {
            checkpoint: self.checkpoint(self.weights(false))?,
            optimizer: on_cpu(optimizer)?,
            state: self.state.clone(),
        })
    }

    /// A native checkpoint of `weights` (moved to the CPU).
    fn checkpoint(&self, weights: BTreeMap<String, Tensor>) -> Result<Checkpoint> {
        let targets = self.dataset.targets().iter().map(|t| Target { name: t.name.clone(), unit: t.unit.clone() });
        Ok(Checkpoint {
            config: CheckpointConfig {
                format_version: FORMAT_VERSION,
                model: self.config.model.clone(),
                targets: targets.collect(),
                provenance: Provenance {
                    source: "chemgnn".into(),
                    weights: None,
                    arguments: None,
                    chemgnn_version: env!("CARGO_PKG_VERSION").into(),
                },
                symmetrized: self.config.data.asu.then_some(self.config.data.symprec),
            },
            weights: StateDict::new(self.run.path.display().to_string(), on_cpu(weights)?),
        })
    }
}

/// `config`'s network reading its parameters from `tensors`.
fn build_network(
    config: &TrainConfig,
    tensors: BTreeMap<String, Tensor>,
    dtype: DType,
    device: &Device,
) -> Result<Network> {
    let tensors: HashMap<String, Tensor> = tensors.into_iter().collect();
    Ok(Network::new(&config.model, VarBuilder::from_tensors(tensors, dtype, device))?)
}

/// `tensors` copied to the CPU (for saving).
fn on_cpu(tensors: BTreeMap<String, Tensor>) -> Result<BTreeMap<String, Tensor>> {
    tensors.into_iter().map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?))).collect()
}

/// The log line of an epoch.
fn epoch_line(r: &EpochRecord, epochs: usize, targets: &[TargetInfo]) -> String {
    let errors: Vec<String> = targets
        .iter()
        .filter_map(|t| r.val.targets.get(&t.name).map(|e| format!("{} MAE {}", t.name, human_error(e.mae, &e.unit))))
        .collect();
    format!(
        "epoch {:>3}/{epochs}  train {:.4}  val {:.4}  {}  lr {:.2e}  {:.1} s ({:.0} mol/s)",
        r.epoch,
        r.train_loss,
        r.val.loss,
        errors.join("  "),
        r.lr,
        r.epoch_seconds,
        r.molecules_per_s
    )
}
