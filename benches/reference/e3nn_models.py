"""Reference timings for `cargo xtask bench --suites e3nn`: e3nn 0.6's spherical harmonics, the point
convolution's tensor product and `gate_points_2101.Network`, in float32 with 1 and 2 threads, on the
QM9 batch, edges and weights that xtask wrote.

    python benches/reference/e3nn_models.py --suite e3nn [--budget S] MANIFEST.json OUT.json

MANIFEST: [{"file": safetensors with pos, onehot, batch, edge_index (our radius graph), y (our
inference output) and state.* (our initial weights, e3nn's names), "args": the network's ARGS.json,
"molecules", "sh_case", "sh_lmax", "tp_case", "tp_irreps", "edge_irreps", "net_case"}].
The network gets our edges by replacing the module-level `radius_graph` e3nn's forward calls;
inference runs under `torch.no_grad()`, forces with `torch.autograd.grad`, a training step is
forward, MSE loss, backward and `Adam.step()` (the names match chemgnn's `model_cases`). The
inference output is compared with ours (relative 1e-4 in f32).
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
    args = json.load(open(entry["args"]))
    net = gate_points_2101.Network(**args)
    state = {k[len("state."):]: v for k, v in t.items() if k.startswith("state.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    buffers = dict(net.named_buffers())
    full = net.state_dict()
    assert not unexpected and all(k in buffers or full[k].numel() == 0 for k in missing), (missing, unexpected)
    data = {"pos": pos, "x": onehot, "z": onehot, "batch": batch}
    with torch.no_grad():
        y = net(data).flatten()
    same = bool(torch.allclose(y, t["y"], rtol=1e-4, atol=1e-4 * float(y.abs().max())))
    if not same:
        print(f"  e3nn output {y[:4].tolist()} differs from chemgnn's {t['y'][:4].tolist()}")
    name = entry["net_case"]

    def inference():
        with torch.no_grad():
            net(data)

    def forces():
        p = pos.clone().requires_grad_(True)
        energy = net({**data, "pos": p})
        torch.autograd.grad(energy.sum(), p)

    targets = torch.randn(int(batch.max()) + 1, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        loss = ((net(data).view(-1, 1) - targets) ** 2).mean()
        loss.backward()
        opt.step()

    out.append((f"{name}, inference", inference, same))
    out.append((f"{name}, inference + forces", forces))
    out.append((f"{name}, training step (forward, backward, Adam)", step))
    return out


if __name__ == "__main__":
    run_torch_suite("e3nn_models.py", cases, lambda entry: (float(entry["molecules"]), "molecules"), package="e3nn", name="e3nn")
