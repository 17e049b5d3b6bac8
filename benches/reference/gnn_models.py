"""Reference timings for `cargo xtask bench --suites models`: PyG's SchNet (default arguments) and
the PyG QM9 example's MPNN, in float32 with 1 and 2 threads, on the batches xtask wrote.

    python benches/reference/gnn_models.py --suite models [--budget S] MANIFEST.json OUT.json

MANIFEST: [{"prefix", "file": safetensors with z, pos, batch, edge_index, mpnn_edge_index, x,
edge_attr, "molecules"}] and one {"gemm": [m, k, n], "case"} entry: the matmul that sets the roofline. SchNet receives the same radius graph through `interaction_graph` (the
reference environment has no torch-cluster); inference runs under `torch.no_grad()`, forces with
`torch.autograd.grad`, a training step is forward, MSE loss, backward and `Adam.step()`.
Writes [] when torch or torch_geometric is missing.
"""

import pathlib
import sys

from harness import run_torch_suite

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "reference"))


class FixedGraph:
    """An `interaction_graph` returning precomputed edges (distances still computed from `pos`)."""

    def __init__(self, edge_index):
        self.edge_index = edge_index

    def __call__(self, pos, batch):
        row, col = self.edge_index
        return self.edge_index, (pos[row] - pos[col]).norm(dim=-1)


def cases(entry):
    import torch
    from safetensors.torch import load_file
    from torch_geometric.data import Batch
    from torch_geometric.nn.models import SchNet
    from pyg_qm9_net import QM9Net

    if "gemm" in entry:
        m, k, n = entry["gemm"]
        a, b = torch.randn(m, k), torch.randn(k, n)
        return [(entry["case"], lambda: torch.mm(a, b))]
    t = load_file(entry["file"])
    z, pos, batch = t["z"], t["pos"], t["batch"]
    graphs = int(batch.max()) + 1
    targets = torch.randn(graphs, 1)
    out = []

    def training(model, forward):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad()
            loss = ((forward().view(-1, 1) - targets) ** 2).mean()
            loss.backward()
            opt.step()
        return step

    schnet = SchNet(interaction_graph=FixedGraph(t["edge_index"]))
    name = f"{entry['prefix']}: SchNet (PyG defaults, {t['edge_index'].shape[1]} edges)"

    def schnet_inference():
        with torch.no_grad():
            schnet(z, pos, batch)

    def schnet_forces():
        p = pos.clone().requires_grad_()
        energy = schnet(z, p, batch)
        torch.autograd.grad(energy.sum(), p)

    out.append((f"{name}, inference", schnet_inference))
    out.append((f"{name}, inference + forces", schnet_forces))
    out.append((f"{name}, training step (forward, backward, Adam)", training(schnet, lambda: schnet(z, pos, batch))))

    mpnn = QM9Net()
    data = Batch(x=t["x"], edge_index=t["mpnn_edge_index"], edge_attr=t["edge_attr"], batch=batch)
    name = f"{entry['prefix']}: MPNN (PyG QM9 example, {t['mpnn_edge_index'].shape[1]} edges)"

    def mpnn_inference():
        with torch.no_grad():
            mpnn(data)

    out.append((f"{name}, inference", mpnn_inference))
    out.append((f"{name}, training step (forward, backward, Adam)", training(mpnn, lambda: mpnn(data))))
    return out


if __name__ == "__main__":
    run_torch_suite("gnn_models.py", cases, lambda entry: (float(entry["molecules"]), "molecules"))
