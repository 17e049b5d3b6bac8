"""The PyTorch side of the equal-budget training comparison (`cargo xtask train-compare`): trains
PyG's SchNet, or the MPNN of PyG's `examples/qm9_nn_conv.py`, exactly as a chemgnn run directory
says — same split, hyperparameters, normalisation, loss, optimiser, schedule, batch size and epochs —
and reports the test errors and the time per epoch.

    python tests/reference/train_pyg.py RUN_DIR OUT.json [--threads N] [--graphs GRAPHS]

RUN_DIR is what `chemgnn train --out RUN_DIR` wrote: `config.json` (the resolved TrainConfig),
`split.json` (dataset indices) and `normalization.json` (per-atom mean/std and atom references;
the model's `mean`/`std` in config.json are already the fitted values). QM9 datasets only
(`qm9-sample`, `qm9` or a chemgnn QM9 `.safetensors` file).

The training loop mirrors chemgnn's (crates/gnn-train/src/trainer.rs): per batch, `energy_weight · mean(L((pred − y) / scale))` with L
the squared, absolute or Huber error; backward, gradient-norm clipping, an Adam/AdamW step, the
learning rate set per step (linear warm-up from 0, cosine/linear decay to `min_lr`) and
`ReduceLROnPlateau` on the validation loss per epoch; optional EMA of the weights and early stopping;
the weights of the best validation loss are evaluated on the test split.

SchNet gets its radius graph from `RadiusGraph` (plain torch; the reference environment has no
torch-cluster): all pairs of the same molecule closer than the cutoff, at most
`max_num_neighbors` nearest sources per target atom. The MPNN (QM9Net of pyg_qm9_net.py) reads the
graphs chemgnn's featuriser made for the run (`--graphs`, written by xtask: PyG's QM9 features,
`Complete()`, `Distance(norm=False)`), so both sides train on identical inputs: RDKit's bond
perception from geometry (qm9_features.py) fails on about 5% of QM9 molecules (16 of 300 tried in
the sample, where chemgnn's failed on none) and picks other Kekulé structures for a few more.

OUT.json: {"implementation", "threads", "model", "test": {target: {"mae", "rmse", "unit"}}, "epochs",
"best_epoch", "seconds_per_epoch" (mean of "epoch_seconds": the time of an epoch's optimiser steps,
forward to weight update, without collating batches — as chemgnn counts, whose loader prepares
batches ahead), "train_loss", "val_loss", "lr" (the rate of each epoch's last step)}.
"""
import argparse
import copy
import json
import math
import os
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATASETS = {  # as chemgnn resolves them (relative paths from the workspace root, where xtask runs)
    "qm9-sample": ROOT / "crates/chem-graph/data/qm9_sample.safetensors",
    "qm9": pathlib.Path(os.environ.get("CHEMGNN_DATA_DIR", "data/cache")) / "qm9.safetensors",
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--graphs", type=pathlib.Path, help="MPNN input graphs (required for the MPNN)")
    return ap.parse_args()


def load_qm9(spec):
    """The QM9 safetensors file named by `data.dataset`, as numpy arrays plus target names/units."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = DATASETS.get(spec, pathlib.Path(spec))
    if path.suffix != ".safetensors":
        sys.exit(f"train_pyg.py: dataset {spec!r} is not QM9 (qm9-sample, qm9 or a QM9 .safetensors file)")
    with safe_open(str(path), "np") as f:
        meta = f.metadata() or {}
    t = load_file(str(path))
    if "targets" not in meta:
        sys.exit(f"train_pyg.py: {path} is not a chemgnn QM9 file (no target names in its metadata)")
    return {
        "offsets": t["atom_offsets"].astype(np.int64),
        "numbers": t["numbers"].astype(np.int64),
        "positions": t["positions"],
        "targets": t["targets"],
        "names": json.loads(meta["targets"]),
        "units": json.loads(meta.get("units", "[]")),
    }


class RadiusGraph:
    """SchNet's `interaction_graph`: pairs (j → i) of the same molecule with |r_i − r_j| < cutoff,
    j ≠ i, keeping the `max_num_neighbors` nearest j per i (all when None). Returns PyG's
    `(edge_index, edge_weight)`, row 0 the source j, row 1 the target i."""

    def __init__(self, cutoff, max_num_neighbors):
        self.cutoff = cutoff
        self.max_num_neighbors = max_num_neighbors

    def __call__(self, pos, batch):
        with torch.no_grad():
            n = pos.shape[0]
            d = torch.cdist(pos, pos)
            mask = (batch.view(-1, 1) == batch.view(1, -1)) & (d < self.cutoff)
            mask.fill_diagonal_(False)
            k = n - 1 if self.max_num_neighbors is None else min(self.max_num_neighbors, n - 1)
            d = d.masked_fill(~mask, math.inf)
            dist, source = d.topk(max(k, 0), dim=1, largest=False, sorted=True)
            keep = dist.isfinite()
            target = torch.arange(n, device=pos.device).view(-1, 1).expand_as(source)
            edge_index = torch.stack([source[keep], target[keep]])
        row, col = edge_index
        return edge_index, (pos[row] - pos[col]).norm(dim=-1)


def build_schnet(model, targets_norm):
    from torch_geometric.nn.models import SchNet

    if model.get("flavor", "pyg") != "pyg":
        sys.exit("train_pyg.py: only SchNet flavor 'pyg' has a PyG counterpart")
    if model["num_elements"] > 100:
        sys.exit("train_pyg.py: PyG's SchNet embeds 100 elements at most")
    atomref = None
    if model.get("atomref"):
        values = targets_norm[0].get("atomref")
        if values is None:
            sys.exit("train_pyg.py: model.atomref is set but normalization.json has no atomref")
        table = torch.zeros(100)
        table[: len(values)] = torch.tensor(values[:100], dtype=torch.float64)
        atomref = table.view(-1, 1)
    net = SchNet(
        hidden_channels=model["hidden_channels"],
        num_filters=model["num_filters"],
        num_interactions=model["num_interactions"],
        num_gaussians=model["num_gaussians"],
        cutoff=model["cutoff"],
        interaction_graph=RadiusGraph(model["cutoff"], model["max_num_neighbors"]),
        max_num_neighbors=model["max_num_neighbors"] or 32,
        readout=model["readout"],
        dipole=model["dipole"],
        mean=model.get("mean"),
        std=model.get("std"),
        atomref=atomref,
    )
    net.scale = model.get("scale")
    return net


class Mpnn(torch.nn.Module):
    """QM9Net (PyG's QM9 example) with `outputs` values per molecule, scaled by `std` and shifted
    by `mean` (one value or one per output) when both are set."""

    def __init__(self, model):
        super().__init__()
        from pyg_qm9_net import QM9Net

        expected = {
            "node_features": 11, "edge_features": 5, "edge_hidden": 128, "steps": 3, "tied_weights": True,
            "aggregation": "mean", "input_projection": True, "towers": 1, "master_node": None,
            "set2set_steps": 3, "set2set_layers": 1, "readout_hidden": model["dim"],
        }
        differ = {k: model.get(k) for k, v in expected.items() if model.get(k) != v}
        if differ:
            sys.exit(f"train_pyg.py: PyG's QM9Net has no counterpart for MPNN settings {differ}")
        self.net = QM9Net(dim=model["dim"])
        self.outputs = model["outputs"]
        if self.outputs != 1:
            self.net.lin2 = torch.nn.Linear(model["dim"], self.outputs)
        mean, std = model.get("mean"), model.get("std")
        self.affine = mean is not None and std is not None
        if self.affine:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.get_default_dtype()))
            self.register_buffer("std", torch.tensor(std, dtype=torch.get_default_dtype()))

    def forward(self, data):
        out = self.net(data).view(-1, self.outputs)
        return out * self.std + self.mean if self.affine else out


def mpnn_graphs(path):
    """Per dataset index, the MPNN input graph `(x, edge_index, edge_attr)` (edge_index local, row 0
    the source) from the file `cargo xtask train-compare` writes with chemgnn's featuriser:
    `molecules` [K], `node_offsets` [K+1], `edge_offsets` [K+1], `x` [N, F], `edge_index` [2, E]
    (indices into x), `edge_attr` [E, D]."""
    from safetensors.torch import load_file

    t = load_file(str(path))
    dtype = torch.get_default_dtype()
    no, eo = t["node_offsets"].tolist(), t["edge_offsets"].tolist()
    graphs = {}
    for k, m in enumerate(t["molecules"].tolist()):
        graphs[m] = (
            t["x"][no[k]: no[k + 1]].to(dtype),
            t["edge_index"][:, eo[k]: eo[k + 1]] - no[k],
            t["edge_attr"][eo[k]: eo[k + 1]].to(dtype),
        )
    return graphs


class Batches:
    """Collates molecules into the model's input: SchNet `(z, pos, batch)`, MPNN a PyG `Batch`-like
    object with x, edge_index, edge_attr and batch."""

    def __init__(self, kind, data, columns, graphs=None):
        self.kind, self.graphs = kind, graphs
        self.offsets = data["offsets"]
        self.numbers = torch.from_numpy(data["numbers"])
        self.positions = torch.from_numpy(data["positions"]).to(torch.get_default_dtype())
        self.y = torch.from_numpy(data["targets"][:, columns])  # f64: errors are measured against these

    def split(self, order, batch_size, max_atoms=None):
        """`order` in batches of at most `batch_size` molecules and `max_atoms` atoms (a molecule
        larger than the budget alone), as chemgnn's loader batches."""
        out, atoms = [], 0
        for m in order:
            n = int(self.offsets[m + 1] - self.offsets[m])
            if not out or len(out[-1]) >= batch_size or (max_atoms is not None and out[-1] and atoms + n > max_atoms):
                out.append([])
                atoms = 0
            out[-1].append(m)
            atoms += n
        return out

    def __call__(self, molecules):
        from torch_geometric.data import Data

        counts = [int(self.offsets[m + 1] - self.offsets[m]) for m in molecules]
        batch = torch.repeat_interleave(torch.arange(len(molecules)), torch.tensor(counts))
        y = self.y[molecules]
        if self.kind == "schnet":
            atoms = torch.cat([torch.arange(self.offsets[m], self.offsets[m + 1]) for m in molecules])
            return (self.numbers[atoms], self.positions[atoms], batch), y
        xs, edges, attrs, start = [], [], [], 0
        for m, n in zip(molecules, counts):
            x, edge_index, edge_attr = self.graphs[m]
            xs.append(x)
            edges.append(edge_index + start)
            attrs.append(edge_attr)
            start += n
        data = Data(x=torch.cat(xs), edge_index=torch.cat(edges, dim=1), edge_attr=torch.cat(attrs), batch=batch)
        return (data,), y


def loss_function(loss, scales):
    """`energy_weight · mean over structures and targets of L((pred − y) / scale)`."""
    scales = torch.tensor(scales, dtype=torch.get_default_dtype())
    weight, kind, delta = loss["energy_weight"], loss["kind"], loss["huber_delta"]

    def residual_loss(pred, y, reduction="mean"):
        r = (pred - y) / scales
        zero = torch.zeros_like(r)
        if kind == "mse":
            out = F.mse_loss(r, zero, reduction="none")
        elif kind == "mae":
            out = F.l1_loss(r, zero, reduction="none")
        elif kind == "huber":
            out = F.huber_loss(r, zero, reduction="none", delta=delta)
        else:
            sys.exit(f"train_pyg.py: unknown loss {kind!r}")
        out = weight * out.mean(dim=1)
        return out.mean() if reduction == "mean" else out.sum()

    return residual_loss


def lr_factor(schedule, step, steps_per_epoch, total_steps, lr):
    """Multiplier of the (plateau-adjusted) learning rate at 0-based optimiser step `step`: linear
    warm-up `(step + 1) / warmup_steps`, times the cosine or linear decay from 1 to `min_lr / lr`
    over all steps."""
    warmup_steps = schedule["warmup_epochs"] * steps_per_epoch
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    progress = min(1.0, step / max(total_steps, 1))
    floor = schedule["min_lr"] / lr
    if schedule["kind"] == "cosine":
        decay = floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    elif schedule["kind"] == "linear":
        decay = floor + (1.0 - floor) * (1.0 - progress)
    else:
        decay = 1.0
    return warm * decay


def evaluate(model, batches, molecules, eval_batch_size, loss_fn):
    """(loss, predictions [N, T], targets [N, T]) over `molecules`, without gradients."""
    model.eval()
    total, preds, ys = 0.0, [], []
    with torch.no_grad():
        for chunk in batches.split(molecules, eval_batch_size):
            inputs, y = batches(chunk)
            pred = model(*inputs).view(y.shape)
            total += float(loss_fn(pred, y.to(pred.dtype), reduction="sum"))
            preds.append(pred.double())
            ys.append(y.double())
    model.train()
    return total / max(len(molecules), 1), torch.cat(preds), torch.cat(ys)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import torch_geometric

    config = json.loads((args.run_dir / "config.json").read_text())
    split = json.loads((args.run_dir / "split.json").read_text())
    norm = json.loads((args.run_dir / "normalization.json").read_text())
    if config.get("precision", "f32") == "f64":
        torch.set_default_dtype(torch.float64)
    if config["data"].get("forces"):
        sys.exit("train_pyg.py: training on forces is not supported (QM9 has none)")
    torch.manual_seed(config["seed"])

    data = load_qm9(config["data"]["dataset"])
    size = len(data["offsets"]) - 1
    if split["size"] != size:
        sys.exit(f"train_pyg.py: split.json is for {split['size']} structures, the dataset has {size}")
    names = config["data"]["targets"]
    columns = [data["names"].index(n) for n in names]
    norm_targets = {t["name"]: t for t in norm["targets"]}
    scales = [norm_targets[n]["scale"] for n in names]
    units = [norm_targets[n].get("unit") or (data["units"][c] if data["units"] else "") for n, c in zip(names, columns)]
    train, val, test = split["train"], split["val"], split["test"]

    model_cfg = config["model"]
    kind = model_cfg["kind"]
    if kind == "schnet":
        if len(names) != 1:
            sys.exit("train_pyg.py: SchNet predicts one target")
        model = build_schnet(model_cfg, [norm_targets[n] for n in names])
        batches = Batches(kind, data, columns)
    elif kind == "mpnn":
        features = model_cfg.get("features", {"kind": "pyg_qm9"})
        if features.get("kind") != "pyg_qm9":
            sys.exit(f"train_pyg.py: MPNN features {features} have no PyG counterpart")
        if model_cfg["outputs"] != len(names):
            sys.exit(f"train_pyg.py: the MPNN has {model_cfg['outputs']} outputs for {len(names)} targets")
        if args.graphs is None:
            sys.exit("train_pyg.py: the MPNN needs --graphs (written by `cargo xtask train-compare`)")
        graphs = mpnn_graphs(args.graphs)
        missing = [m for m in train + val + test if m not in graphs]
        if missing:
            sys.exit(f"train_pyg.py: {args.graphs} lacks the graphs of {len(missing)} molecules, e.g. {missing[0]}")
        model = Mpnn(model_cfg)
        batches = Batches(kind, data, columns, graphs)
    else:
        sys.exit(f"train_pyg.py: unknown model kind {kind!r}")

    opt_cfg, schedule = config["optimizer"], config["schedule"]
    optimizer_class = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[opt_cfg["kind"]]
    optimizer = optimizer_class(model.parameters(), lr=opt_cfg["lr"], betas=tuple(opt_cfg["betas"]),
                                eps=opt_cfg["eps"], weight_decay=opt_cfg["weight_decay"])
    plateau = None
    if schedule["kind"] == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=schedule["factor"], patience=schedule["patience"],
            threshold=schedule["threshold"], threshold_mode="rel", min_lr=schedule["min_lr"])
    base_lr = opt_cfg["lr"]  # the rate the per-step factor multiplies; lowered by the plateau rule
    loss_fn = loss_function(config["loss"], scales)
    ema_decay, clip = config.get("ema_decay"), config.get("clip_grad_norm")
    ema = copy.deepcopy(model) if ema_decay is not None else None
    evaluated = ema if ema is not None else model

    batch_size, epochs, max_atoms = config["batch_size"], config["epochs"], config.get("max_atoms_per_batch")
    steps_per_epoch = math.ceil(len(train) / batch_size)  # chemgnn's schedule counts these even with max_atoms
    total_steps = steps_per_epoch * epochs
    train_idx = torch.tensor(train)
    generator = torch.Generator().manual_seed(config["seed"])
    history = {"epoch_seconds": [], "train_loss": [], "val_loss": [], "lr": []}
    best = (math.inf, 0, copy.deepcopy(evaluated.state_dict()))
    patience, step = config.get("early_stopping_patience"), 0
    label = f"PyG {torch_geometric.__version__} / torch {torch.__version__.split('+')[0]}"
    threads = f"{args.threads} thread{'s' if args.threads > 1 else ''}"
    print(f"{label}, {threads}: {kind}, {len(train)}/{len(val)}/{len(test)} molecules, {epochs} epochs of "
          f"{steps_per_epoch} steps", flush=True)
    model.train()
    for epoch in range(1, epochs + 1):
        order = train_idx[torch.randperm(len(train), generator=generator)].tolist()
        total, seconds = 0.0, 0.0
        for chunk in batches.split(order, batch_size, max_atoms):
            inputs, y = batches(chunk)
            start = time.perf_counter()  # the step, as chemgnn times it (its batches are prepared ahead)
            for group in optimizer.param_groups:
                group["lr"] = base_lr * lr_factor(schedule, step, steps_per_epoch, total_steps, opt_cfg["lr"])
            optimizer.zero_grad(set_to_none=True)
            pred = model(*inputs).view(y.shape)
            loss = loss_fn(pred, y.to(pred.dtype))
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if ema is not None:
                with torch.no_grad():
                    for shadow, p in zip(ema.parameters(), model.parameters()):
                        shadow.mul_(ema_decay).add_(p, alpha=1.0 - ema_decay)
            total += loss.item() * y.shape[0]
            seconds += time.perf_counter() - start
            step += 1
        lr = optimizer.param_groups[0]["lr"]
        val_loss, pred, y = evaluate(evaluated, batches, val, config["eval_batch_size"], loss_fn)
        if plateau is not None:
            for group in optimizer.param_groups:
                group["lr"] = base_lr
            plateau.step(val_loss)
            base_lr = optimizer.param_groups[0]["lr"]
        history["epoch_seconds"].append(seconds)
        history["train_loss"].append(total / len(train))
        history["val_loss"].append(val_loss)
        history["lr"].append(lr)
        mae = (pred - y).abs().mean(dim=0).tolist()
        print(f"epoch {epoch:4d}  lr {lr:.3e}  train {total / len(train):.5f}  val {val_loss:.5f}  "
              + "  ".join(f"{n} MAE {v:.5f} {u}" for n, v, u in zip(names, mae, units))
              + f"  {seconds:.1f} s", flush=True)
        if val_loss < best[0]:
            best = (val_loss, epoch, copy.deepcopy(evaluated.state_dict()))
        elif patience is not None and epoch - best[1] >= patience:
            print(f"early stop: no improvement for {patience} epochs")
            break

    evaluated.load_state_dict(best[2])
    _, pred, y = evaluate(evaluated, batches, test, config["eval_batch_size"], loss_fn)
    err = pred - y
    result = {
        "implementation": label,
        "threads": args.threads,
        "model": kind,
        "test": {
            n: {"mae": float(err[:, t].abs().mean()), "rmse": float(err[:, t].pow(2).mean().sqrt()), "unit": u}
            for t, (n, u) in enumerate(zip(names, units))
        },
        "epochs": len(history["epoch_seconds"]),
        "best_epoch": best[1],
        "seconds_per_epoch": float(np.mean(history["epoch_seconds"])),
        **history,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for n, m in result["test"].items():
        print(f"test {n}: MAE {m['mae']:.5f} {m['unit']}, RMSE {m['rmse']:.5f} {m['unit']} "
              f"(best epoch {best[1]}, {result['seconds_per_epoch']:.2f} s/epoch)")


if __name__ == "__main__":
    main()
