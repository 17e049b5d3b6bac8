"""Reference timings for `cargo xtask bench --suites ops`: PyTorch / PyTorch Geometric graph ops and
layers, forward + backward in float32, on the same edge indices as chemgnn, with 1 and 2 threads.

    python benches/reference/gnn_ops.py --suite ops [--budget S] MANIFEST.json OUT.json

MANIFEST (written by xtask): [{"prefix", "nodes", "edges", "source": npy, "target": npy}].
Each case computes `(out * R).sum().backward()`, as chemgnn's side does. Writes [] when torch or
torch_geometric is missing.
"""

import numpy as np

from harness import run_torch_suite


def cases(entry):
    import torch
    from torch_geometric.nn import NNConv
    from torch_geometric.nn.models.schnet import InteractionBlock
    from torch_geometric.utils import scatter, softmax

    n, e, p = entry["nodes"], entry["edges"], entry["prefix"]
    source = torch.from_numpy(np.load(entry["source"]))
    target = torch.from_numpy(np.load(entry["target"]))
    edge_index = torch.stack([source, target])

    def var(*shape):
        return torch.randn(*shape).requires_grad_()

    out = []

    def add(name, fn, x, r):
        """Forward only (no graph), and forward + backward of sum(out * R)."""

        def forward():
            with torch.no_grad():
                fn(x)

        def both():
            (fn(x) * r).sum().backward()
            x.grad = None

        out.append((f"{name}, forward", forward))
        out.append((f"{name}, forward + backward", both))

    add(f"{p}gather [{n},128] → [{e},128]", lambda x: x.index_select(0, source), var(n, 128), torch.randn(e, 128))
    for reduce in ["sum", "mean", "max"]:
        fn = lambda x, r=reduce: scatter(x, target, 0, dim_size=n, reduce=r)
        add(f"{p}scatter {reduce} [{e},128] → [{n},128]", fn, var(e, 128), torch.randn(n, 128))
    add(f"{p}segment softmax [{e},4]", lambda x: softmax(x, target, num_nodes=n), var(e, 4), torch.randn(e, 4))
    net = torch.nn.Sequential(torch.nn.Linear(5, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64 * 64))
    conv = NNConv(64, 64, net, aggr="mean")
    attr = torch.randn(e, 5)
    add(f"{p}NNConv 64→64, edge network 5→128→4096, mean", lambda x: conv(x, edge_index, attr), var(n, 64), torch.randn(n, 64))
    block = InteractionBlock(128, 50, 128, 10.0)
    rbf = torch.randn(e, 50)
    pos = torch.randn(n, 3) * 3
    distance = (pos[source] - pos[target]).norm(dim=-1)
    add(f"{p}SchNet interaction (CFConv) 128 features, 50 Gaussians, 128 filters",
        lambda h: block(h, edge_index, distance, rbf), var(n, 128), torch.randn(n, 128))

    # The fused kernels of chemgnn's SchNet path against the PyTorch ops PyG runs for the same work.
    from torch_geometric.nn.models.schnet import GaussianSmearing, ShiftedSoftplus
    ssp, bias = ShiftedSoftplus(), torch.randn(128)
    add(f"{p}bias + shifted softplus [{e},128]", lambda x: ssp(x + bias), var(e, 128), torch.randn(e, 128))
    smearing = GaussianSmearing(0.0, 10.0, 50)
    d = (torch.rand(e) * 9.0 + 0.5).requires_grad_()
    add(f"{p}Gaussian expansion [{e}] → [{e},50]", smearing, d, torch.randn(e, 50))
    mlp = torch.nn.Sequential(torch.nn.Linear(50, 128), ShiftedSoftplus(), torch.nn.Linear(128, 128))

    def filter_network(d):
        cutoff = 0.5 * (torch.cos(d * torch.pi / 10.0) + 1.0)
        return mlp(smearing(d)) * cutoff.view(-1, 1)

    add(f"{p}SchNet filter network per edge (Gaussians → 50→128→128 MLP → cosine cutoff)",
        filter_network, d, torch.randn(e, 128))
    lin = torch.nn.Linear(128, 128)
    add(f"{p}linear [{e},128]·[128,128]ᵀ + bias", lin, var(e, 128), torch.randn(e, 128))
    return out


if __name__ == "__main__":
    run_torch_suite("gnn_ops.py", cases)
