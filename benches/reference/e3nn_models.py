"""Reference timings for `cargo xtask bench --suites e3nn`: e3nn 0.6's spherical harmonics, the point
convolution's tensor product and `gate_points_2101.Network`, in float32 with 1 and 2 threads, on the
QM9 batch, edges and weights that xtask wrote.

    python benches/reference/e3nn_models.py --suite e3nn [--budget S] MANIFEST.json OUT.json

MANIFEST: [{"file": safetensors with pos, onehot, batch, edge_index (our radius graph), y (our
inference output) and state.* (our initial weights, e3nn's names), "args": the network's ARGS.json,
"molecules", "sh_case", "sh_lmax", "tp_case", "tp_irreps", "edge_irreps", "net_case", "l1_case",
"l1_config" (chemgnn's EquivariantNetConfig), and in the file l1.state.*, l1.ids, l1.edge_index, l1.y}].
The network gets our edges by replacing the module-level `radius_graph` e3nn's forward calls;
inference runs under `torch.no_grad()`, forces with `torch.autograd.grad`, a training step is
forward, MSE loss, backward and `Adam.step()` (the names match chemgnn's `model_cases`). The
inference output is compared with ours (relative 1e-4 in f32). L1Net is built here from e3nn 0.6's
layers exactly as chemgnn's `EquivariantNet` (gnn-models/src/equivariant_net.rs), with its
parameter names, and timed the same way.
"""

import json

from harness import run_torch_suite


def channelwise(o3, irreps_in, irreps_edge, targets):
    """gate_points_2101's convolution product: uvu paths into the sorted middle irreps."""
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for j, (_, ir_edge) in enumerate(irreps_edge):
            for ir_out in ir_in * ir_edge:
                if ir_out in [t.ir for t in targets]:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    mid, p, _ = o3.Irreps(mid).sort()
    instructions = [(i1, i2, p[o], mode, w) for i1, i2, o, mode, w in instructions]
    return o3.TensorProduct(irreps_in, irreps_edge, mid, instructions, shared_weights=False, internal_weights=False)


def l1net(c):
    """chemgnn's EquivariantNet (L0Net/L1Net) from e3nn 0.6's layers, with chemgnn's parameter names."""
    import torch
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace
    from e3nn.nn import FullyConnectedNet, Gate
    from e3nn.nn.models.gate_points_2101 import smooth_cutoff

    silu, sigmoid = torch.nn.functional.silu, torch.sigmoid
    edge = o3.Irreps.spherical_harmonics(c["lmax_filter"])

    class Convolution(torch.nn.Module):
        def __init__(self, irreps_in, irreps_out):
            super().__init__()
            self.tp = channelwise(o3, irreps_in, edge, irreps_out)
            hs = [c["radial_basis"]] + [c["radial_neurons"]] * c["radial_layers"] + [self.tp.weight_numel]
            self.radial = FullyConnectedNet(hs, silu)
            self.linear = o3.Linear(self.tp.irreps_out, irreps_out)

        def forward(self, h, src, dst, attr, radial):
            messages = self.tp(h[src], attr, self.radial(radial))
            summed = torch.zeros(len(h), messages.shape[1]).index_add_(0, dst, messages)
            return self.linear(summed / c["num_neighbors"] ** 0.5)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(len(c["elements"]), c["embedding"])
            features = o3.Irreps(c["features"])
            scalars = o3.Irreps([(m, ir) for m, ir in features if ir.l == 0])
            gated = o3.Irreps([(m, ir) for m, ir in features if ir.l > 0])
            irreps = o3.Irreps(f"{c['embedding']}x0e")
            self.layers, self.gates, self.residual = torch.nn.ModuleList(), torch.nn.ModuleList(), []
            for _ in range(c["layers"]):
                gate = Gate(scalars, [silu] * len(scalars), o3.Irreps([(m, "0e") for m, _ in gated]),
                            [sigmoid] * len(gated), gated)
                self.layers.append(Convolution(irreps, gate.irreps_in))
                self.gates.append(gate)
                self.residual.append(c["residual"] and irreps == gate.irreps_out)
                irreps = gate.irreps_out
            self.output = Convolution(irreps, o3.Irreps("1x0e"))

        def forward(self, ids, pos, batch, src, dst, graphs):
            vec = pos[src] - pos[dst]
            length = vec.norm(dim=1)
            attr = o3.spherical_harmonics(edge, vec, True, normalization="component")
            bessel = soft_one_hot_linspace(length, 0.0, c["cutoff"], c["radial_basis"], "bessel", True)
            radial = bessel * smooth_cutoff(length / c["cutoff"])[:, None]
            h = self.embedding(ids)
            for conv, gate, residual in zip(self.layers, self.gates, self.residual):
                out = gate(conv(h, src, dst, attr, radial))
                h = h + out if residual else out
            atoms = self.output(h, src, dst, attr, radial) * c["std"] + c["mean"]
            return torch.zeros(graphs, 1).index_add_(0, batch, atoms)

    assert c["readout"] == "add" and c["atomref"] is None and c.get("head", "scalar") == "scalar", c
    assert c.get("basis", "bessel") == "bessel", c
    return Net()


def model_cases(name, net, run, same):
    """Inference, inference + forces and a training step of `net`, called as `run(net, pos)`."""
    import torch

    pos = run.pos

    def inference():
        with torch.no_grad():
            run(net, pos)

    def forces():
        p = pos.clone().requires_grad_(True)
        torch.autograd.grad(run(net, p).sum(), p)

    targets = torch.randn(run.graphs, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        loss = ((run(net, pos).view(-1, 1) - targets) ** 2).mean()
        loss.backward()
        opt.step()

    return [(f"{name}, inference", inference, same), (f"{name}, inference + forces", forces),
            (f"{name}, training step (forward, backward, Adam)", step)]


def load(net, state):
    """Loads chemgnn's weights; only buffers and empty tensors may be missing."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    buffers = dict(net.named_buffers())
    full = net.state_dict()
    assert not unexpected and all(k in buffers or full[k].numel() == 0 for k in missing), (missing, unexpected)


def compare(y, ours, what):
    import torch

    same = bool(torch.allclose(y, ours, rtol=1e-4, atol=1e-4 * float(y.abs().max())))
    if not same:
        print(f"  {what}: e3nn output {y[:4].tolist()} differs from chemgnn's {ours[:4].tolist()}")
    return same


def cases(entry):
    import torch
    from e3nn import o3
    from e3nn.nn.models import gate_points_2101
    from safetensors.torch import load_file

    t = load_file(entry["file"])
    pos, onehot, batch, edge_index = t["pos"], t["onehot"], t["batch"], t["edge_index"]
    src, dst = edge_index
    out = []

    vec = pos[src] - pos[dst]
    out.append((entry["sh_case"], lambda: o3.spherical_harmonics(list(range(entry["sh_lmax"] + 1)), vec, True, normalization="component")))

    features, edge_irreps = o3.Irreps(entry["tp_irreps"]), o3.Irreps(entry["edge_irreps"])
    tp = channelwise(o3, features, edge_irreps, features)
    x = torch.randn(len(pos), features.dim, requires_grad=True)
    attr = o3.spherical_harmonics(edge_irreps, vec, True, normalization="component").requires_grad_(True)
    w = torch.randn(len(src), tp.weight_numel, requires_grad=True)
    cotangent = torch.randn(len(pos), tp.irreps_out.dim)

    def convolve():
        messages = tp(x[src], attr, w)
        return torch.zeros(len(pos), messages.shape[1]).index_add_(0, dst, messages)

    def forward():
        with torch.no_grad():
            convolve()

    def backward():
        torch.autograd.grad((convolve() * cotangent).sum(), [x, attr, w])

    out.append((entry["tp_case"] + ", forward", forward))
    out.append((entry["tp_case"] + ", forward + backward", backward))

    gate_points_2101.radius_graph = lambda pos, r_max, batch: edge_index
    net = gate_points_2101.Network(**json.load(open(entry["args"])))
    load(net, {k[len("state."):]: v for k, v in t.items() if k.startswith("state.")})
    data = {"pos": pos, "x": onehot, "z": onehot, "batch": batch}

    def run_gate_points(net, p):
        return net({**data, "pos": p})

    run_gate_points.pos, run_gate_points.graphs = pos, int(batch.max()) + 1
    with torch.no_grad():
        same = compare(net(data).flatten(), t["y"], "gate_points_2101")
    out += model_cases(entry["net_case"], net, run_gate_points, same)

    l1 = l1net(entry["l1_config"])
    load(l1, {k[len("l1.state."):]: v for k, v in t.items() if k.startswith("l1.state.")})
    l1_src, l1_dst = t["l1.edge_index"]
    ids = t["l1.ids"]

    def run_l1(net, p):
        return net(ids, p, batch, l1_src, l1_dst, run_gate_points.graphs)

    run_l1.pos, run_l1.graphs = pos, run_gate_points.graphs
    with torch.no_grad():
        same = compare(run_l1(l1, pos).flatten(), t["l1.y"], "L1Net")
    out += model_cases(entry["l1_case"], l1, run_l1, same)
    return out


if __name__ == "__main__":
    run_torch_suite("e3nn_models.py", cases, lambda entry: (float(entry["molecules"]), "molecules"), package="e3nn", name="e3nn")
