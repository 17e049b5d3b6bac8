"""Reference timings for `cargo xtask bench --suites cli`: PyG's SchNet (default arguments) on the
molecules chemgnn's whole-process runs use — prediction with and without forces (batches of 64) and
one training epoch (batches of 32, Adam, then evaluation of a fifth of the molecules as chemgnn's
validation and test sets) — timed in-process after imports, with 2 threads, radius graphs built per batch in
PyTorch (cdist within each molecule, r < 10 Å, at most 32 neighbours; no torch-cluster).

    python benches/reference/cli_pyg.py --suite cli [--budget S] MANIFEST.json OUT.json

MANIFEST: [{"file": extxyz, "train", "molecules", "train_case"}]. Writes [] when torch, torch_geometric
or ase is missing.
"""

import json
import time

from gnn_models import FixedGraph
from harness import parse_args, time_median


def radius_edges(pos, batch, cutoff=10.0, max_neighbors=32):
    """PyG's `radius_graph(pos, r, batch, max_num_neighbors=32)` (flow source → target) in pure torch."""
    import torch

    d = torch.cdist(pos, pos)
    mask = (batch[:, None] == batch[None, :]) & (d < cutoff)
    mask.fill_diagonal_(False)
    d = d.masked_fill(~mask, float("inf"))
    k = min(max_neighbors, pos.shape[0] - 1) if pos.shape[0] > 1 else 0
    if k == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    near, idx = d.topk(k, dim=1, largest=False)
    keep = torch.isfinite(near)
    target = torch.arange(pos.shape[0])[:, None].expand_as(idx)[keep]
    return torch.stack([idx[keep], target])


def main():
    args = parse_args()
    results = []
    try:
        import ase.io
        import torch
        import torch_geometric
        from torch_geometric.nn.models import SchNet
    except ImportError as err:
        print(f"cli_pyg.py: {err}; no PyTorch timings")
        json.dump(results, open(args.out, "w"))
        return
    torch.set_num_threads(2)
    label = f"PyG {torch_geometric.__version__} / torch {torch.__version__.split('+')[0]} (2 threads, in-process)"
    for entry in json.load(open(args.manifest)):
        atoms = ase.io.read(entry["file"], index=":")
        mols = [(torch.tensor(a.numbers), torch.tensor(a.positions, dtype=torch.float32)) for a in atoms]

        graph = FixedGraph(None)
        model = SchNet(interaction_graph=graph)

        def batches(items, size):
            for start in range(0, len(items), size):
                chunk = items[start:start + size]
                z = torch.cat([m[0] for m in chunk])
                pos = torch.cat([m[1] for m in chunk])
                batch = torch.cat([torch.full((len(m[0]),), k) for k, m in enumerate(chunk)])
                yield z, pos, batch

        def run(z, pos, batch):
            graph.edge_index = radius_edges(pos.detach(), batch)
            return model(z, pos, batch)

        def predict(forces):
            for z, pos, batch in batches(mols, 64):
                if forces:
                    pos = pos.clone().requires_grad_()
                    energy = run(z, pos, batch)
                    torch.autograd.grad(energy.sum(), pos)
                else:
                    with torch.no_grad():
                        run(z, pos, batch)

        def train_epoch():
            opt = torch.optim.Adam(model.parameters(), lr=5e-4)
            train = [mols[i] for i in torch.randperm(len(mols))[: entry["train"]].tolist()]
            for z, pos, batch in batches(train, 32):
                opt.zero_grad()
                y = run(z, pos, batch)
                loss = (y ** 2).mean()
                loss.backward()
                opt.step()
            with torch.no_grad():
                for z, pos, batch in batches(mols[: len(mols) // 5], 128):
                    run(z, pos, batch)

        n = len(mols)
        cases = [
            (f"SchNet (PyG defaults) prediction on {n} QM9 molecules (batches of 64)", lambda: predict(False), n),
            (f"SchNet (PyG defaults) prediction with forces on {n} QM9 molecules (batches of 64)",
             lambda: predict(True), n),
        ]
        start = time.perf_counter()
        train_epoch()
        results.append({"suite": args.suite, "case": entry["train_case"], "implementation": label,
                        "seconds": time.perf_counter() - start, "work": float(entry["train"]),
                        "unit": "molecules", "identical": None})
        for case, fn, work in cases:
            seconds = time_median(args.budget, fn)
            results.append({"suite": args.suite, "case": case, "implementation": label, "seconds": seconds,
                            "work": float(work), "unit": "molecules", "identical": None})
            print(f"  {case:<100} {seconds * 1e3:10.3f} ms")
    json.dump(results, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
