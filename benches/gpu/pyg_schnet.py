"""PyG's SchNet (default arguments: 128 channels, 128 filters, 6 interactions, 50 Gaussians, 10 Å,
at most 32 neighbours) on a GPU, on the QM9 sample chemgnn ships, for `benches/gpu/run.sh`:
training throughput (Adam, MSE on U0, one epoch of the 2,400 training molecules after a warm-up
epoch) and inference throughput, per batch size. Radius graphs are built once on the GPU before
timing, as chemgnn's trainer caches its graphs.

    python benches/gpu/pyg_schnet.py OUT.json [BATCH ...]
"""

import json
import os
import sys
import time

import numpy as np
import torch
import torch_geometric
from safetensors import safe_open
from safetensors.numpy import load_file
from torch_geometric.nn.models import SchNet

SAMPLE = "crates/chem-graph/data/qm9_sample.safetensors"


class FixedGraph:
    """An `interaction_graph` returning precomputed edges (distances still computed from `pos`)."""

    def __init__(self):
        self.edge_index = None

    def __call__(self, pos, batch):
        row, col = self.edge_index
        return self.edge_index, (pos[row] - pos[col]).norm(dim=-1)


def radius_edges(pos, batch, cutoff=10.0, max_neighbors=32):
    d = torch.cdist(pos, pos)
    mask = (batch[:, None] == batch[None, :]) & (d < cutoff)
    mask.fill_diagonal_(False)
    d = d.masked_fill(~mask, float("inf"))
    k = min(max_neighbors, pos.shape[0] - 1)
    near, idx = d.topk(k, dim=1, largest=False)
    keep = torch.isfinite(near)
    target = torch.arange(pos.shape[0], device=pos.device)[:, None].expand_as(idx)[keep]
    return torch.stack([idx[keep], target])


def main():
    out = sys.argv[1]
    sizes = [int(s) for s in sys.argv[2:]] or [32, 128, 512]
    dev = torch.device(os.environ.get("DEVICE", "cuda"))  # DEVICE=cpu LIMIT=64 for a smoke test
    t = load_file(SAMPLE)
    offsets, numbers, positions = t["atom_offsets"], t["numbers"], t["positions"]
    with safe_open(SAMPLE, "np") as f:
        names = json.loads(f.metadata()["targets"])
    u0 = t["targets"][:, names.index("U0")]
    mols = [(torch.tensor(numbers[a:b].astype(np.int64)), torch.tensor(positions[a:b], dtype=torch.float32))
            for a, b in zip(offsets[:-1], offsets[1:])]
    train = mols[: int(os.environ.get("LIMIT", 2400))]
    y_all = torch.tensor(u0[: len(train)], dtype=torch.float32)
    results = {"implementation": f"PyG {torch_geometric.__version__} / torch {torch.__version__}",
               "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", "cases": []}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for size in sizes:
        graph = FixedGraph()
        torch.manual_seed(0)
        model = SchNet(interaction_graph=graph).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        batches = []
        for start in range(0, len(train), size):
            chunk = train[start:start + size]
            z = torch.cat([m[0] for m in chunk]).to(dev)
            pos = torch.cat([m[1] for m in chunk]).to(dev)
            batch = torch.cat([torch.full((len(m[0]),), k) for k, m in enumerate(chunk)]).to(dev)
            batches.append((z, pos, batch, radius_edges(pos, batch), y_all[start:start + size, None].to(dev)))

        def epoch():
            for z, pos, batch, edges, y in batches:
                graph.edge_index = edges
                opt.zero_grad()
                loss = ((model(z, pos, batch) - y) ** 2).mean()
                loss.backward()
                opt.step()
            sync()

        def infer():
            with torch.no_grad():
                for z, pos, batch, edges, _ in batches:
                    graph.edge_index = edges
                    model(z, pos, batch)
            sync()

        epoch()
        start = time.perf_counter()
        epoch()
        train_s = time.perf_counter() - start
        infer()
        start = time.perf_counter()
        infer()
        infer_s = time.perf_counter() - start
        case = {"batch": size, "train_molecules_per_s": len(train) / train_s,
                "inference_molecules_per_s": len(train) / infer_s,
                "edges": int(sum(b[3].shape[1] for b in batches))}
        print(case, flush=True)
        results["cases"].append(case)
    json.dump(results, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
