"""Fixtures for gnn-layers parity tests: tests/fixtures/gnn_layers.safetensors.

For f64 and f32 (key prefix `f64.` / `f32.`), on a small batch of graphs with an empty graph, a
single-atom graph, isolated nodes and sizes not divisible by any block size, this writes the
inputs, parameters (PyTorch state_dict names), outputs and gradients of `sum(out * R)` (R a fixed
random tensor) w.r.t. inputs and parameters of:

- graph ops from torch / torch_geometric.utils: index_select, scatter (sum/mean/max/min), softmax,
  the fused gather-multiply-scatter and per-edge matrix-vector products (as PyG's NNConv message);
- building blocks: nn.Linear, nn.Sequential MLP, nn.Embedding(padding_idx), nn.GRUCell, nn.GRU and
  nn.LSTM (2 layers, one step), PyG Set2Set, NNConv (mean, add), SchNet's GaussianSmearing and
  InteractionBlock, nn.LayerNorm, nn.BatchNorm1d (train step and eval), activations (PyG
  ShiftedSoftplus, softplus, SiLU), PyG DimeNet Envelope, schnetpack GaussianRBF/BesselRBF/CosineCutoff.

Layout: `{dt}.{case}.in.{name}`, `{dt}.{case}.param.{state_dict key}`, `{dt}.{case}.out[.{name}]`,
`{dt}.{case}.R[.{name}]`, `{dt}.{case}.grad.in.{name}`, `{dt}.{case}.grad.param.{key}`.

Run with the reference environment (../shared/reference/setup.sh):
    python tests/reference/gnn_layers.py
"""
import importlib.util
import pathlib

import torch
import torch_geometric
from safetensors.torch import save_file
from torch_geometric.nn import NNConv
from torch_geometric.nn.aggr import Set2Set
from torch_geometric.nn.models.dimenet import Envelope
from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock, ShiftedSoftplus
from torch_geometric.utils import scatter, softmax

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "gnn_layers.safetensors"


def schnetpack_module(name):
    """schnetpack.nn.<name> loaded on its own (schnetpack's package __init__ needs an older torch)."""
    package = importlib.util.find_spec("schnetpack").submodule_search_locations[0]
    path = pathlib.Path(package) / "nn" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"spk_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graph_batch(gen):
    """Graphs of 7, 0, 1, 13 and 3 nodes; random edges inside graphs; some nodes isolated."""
    sizes = [7, 0, 1, 13, 3]
    node_graph, source, target, start = [], [], [], 0
    for g, n in enumerate(sizes):
        node_graph += [g] * n
        if n > 1:
            nodes = list(range(start, start + n - 1))  # the last node of each graph stays isolated
            for _ in range(3 * n):
                j, i = torch.randint(len(nodes), (2,), generator=gen).tolist()
                if i != j:
                    source.append(nodes[j])
                    target.append(nodes[i])
        start += n
    return (
        torch.tensor(node_graph),
        torch.tensor(source),
        torch.tensor(target),
        len(sizes),
    )


class Fixture:
    def __init__(self, dtype, gen):
        self.dtype, self.gen, self.tensors = dtype, gen, {}
        self.prefix = {torch.float64: "f64", torch.float32: "f32"}[dtype]

    def randn(self, *shape, scale=1.0):
        return (torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale).to(self.dtype)

    def put(self, key, t):
        self.tensors[f"{self.prefix}.{key}"] = t.detach().clone().contiguous()

    def case(self, name, fn, inputs, module=None, outputs=None):
        """Runs fn(**inputs) -> tensor or dict of tensors; records everything."""
        inputs = {k: (v.clone().requires_grad_(v.is_floating_point()) if torch.is_tensor(v) else v) for k, v in inputs.items()}
        for k, v in inputs.items():
            if torch.is_tensor(v):
                self.put(f"{name}.in.{k}", v)
        params = dict(module.named_parameters()) if module is not None else {}
        if module is not None:
            for k, v in module.state_dict().items():
                if v.is_floating_point():
                    self.put(f"{name}.param.{k}", v)
        out = fn(**inputs)
        outs = out if isinstance(out, dict) else {"": out}
        loss = 0
        for k, v in outs.items():
            suffix = f".{k}" if k else ""
            r = self.randn(*v.shape)
            self.put(f"{name}.out{suffix}", v)
            self.put(f"{name}.R{suffix}", r)
            if v.requires_grad:
                loss = loss + (v * r).sum()
        wrt = {f"in.{k}": v for k, v in inputs.items() if torch.is_tensor(v) and v.requires_grad}
        wrt.update({f"param.{k}": v for k, v in params.items()})
        grads = torch.autograd.grad(loss, list(wrt.values()), allow_unused=True)
        for k, g in zip(wrt, grads):
            self.put(f"{name}.grad.{k}", torch.zeros_like(wrt[k]) if g is None else g)


def build(dtype, seed=7):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    fx = Fixture(dtype, gen)
    node_graph, source, target, num_graphs = graph_batch(gen)
    n, e = len(node_graph), len(source)
    fx.tensors[f"{fx.prefix}.graph.node_graph"] = node_graph
    fx.tensors[f"{fx.prefix}.graph.source"] = source
    fx.tensors[f"{fx.prefix}.graph.target"] = target
    fx.tensors[f"{fx.prefix}.graph.num_graphs"] = torch.tensor([num_graphs])

    # Graph ops.
    fx.case("gather", lambda x: x.index_select(0, source), {"x": fx.randn(n, 5)})
    for reduce in ["sum", "mean", "max", "min"]:
        fx.case(f"scatter_{reduce}", lambda src, r=reduce: scatter(src, target, 0, dim_size=n, reduce=r), {"src": fx.randn(e, 5)})
    fx.case("graph_sum", lambda x: scatter(x, node_graph, 0, dim_size=num_graphs, reduce="sum"), {"x": fx.randn(n, 3)})
    fx.case("softmax", lambda src: softmax(src, target, num_nodes=n), {"src": fx.randn(e, 2, scale=3.0)})
    fx.case("gather_mul_scatter", lambda x, w: scatter(x[source] * w, target, 0, dim_size=n, reduce="sum"),
            {"x": fx.randn(n, 5), "w": fx.randn(e, 5)})
    fx.case("row_matvec", lambda x, w: torch.matmul(x.unsqueeze(1), w.view(-1, 3, 4)).squeeze(1),
            {"x": fx.randn(e, 3), "w": fx.randn(e, 12)})

    # Building blocks.
    def module(m):
        return m.to(dtype)

    lin = module(torch.nn.Linear(5, 4))
    fx.case("linear", lin, {"input": fx.randn(6, 5)}, lin)
    mlp = module(torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)))
    fx.case("mlp", mlp, {"input": fx.randn(6, 5)}, mlp)
    emb = module(torch.nn.Embedding(10, 4, padding_idx=0))
    with torch.no_grad():
        emb.weight[0] = fx.randn(4)  # a loaded padding row keeps its value but gets no gradient
    fx.tensors[f"{fx.prefix}.embedding.ids"] = torch.tensor([3, 0, 9, 3, 1, 0])
    fx.case("embedding", lambda: emb(torch.tensor([3, 0, 9, 3, 1, 0])), {}, emb)
    cell = module(torch.nn.GRUCell(5, 4))
    fx.case("gru_cell", cell, {"input": fx.randn(6, 5), "hx": fx.randn(6, 4)}, cell)
    gru = module(torch.nn.GRU(5, 4, num_layers=2))
    fx.case("gru", lambda x, h: dict(zip(["l0", "l1"], gru(x.unsqueeze(0), h)[1].unbind(0))),
            {"x": fx.randn(6, 5), "h": fx.randn(2, 6, 4)}, gru)
    lstm = module(torch.nn.LSTM(5, 4, num_layers=2))

    def lstm_step(x, h, c):
        _, (hn, cn) = lstm(x.unsqueeze(0), (h, c))
        return {"h0": hn[0], "h1": hn[1], "c0": cn[0], "c1": cn[1]}

    fx.case("lstm", lstm_step, {"x": fx.randn(6, 5), "h": fx.randn(2, 6, 4), "c": fx.randn(2, 6, 4)}, lstm)
    s2s = module(Set2Set(5, processing_steps=3))
    fx.case("set2set", lambda x: s2s(x, node_graph, dim_size=num_graphs), {"x": fx.randn(n, 5)}, s2s)
    s2s2 = module(Set2Set(3, processing_steps=2, num_layers=2))
    fx.case("set2set_2layers", lambda x: s2s2(x, node_graph, dim_size=num_graphs), {"x": fx.randn(n, 3)}, s2s2)
    for aggr in ["mean", "add"]:
        net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 12))
        conv = module(NNConv(3, 4, net, aggr=aggr))
        fx.case(f"nnconv_{aggr}", lambda x, edge_attr, c=conv: c(x, torch.stack([source, target]), edge_attr),
                {"x": fx.randn(n, 3), "edge_attr": fx.randn(e, 2)}, conv)
    smearing = module(GaussianSmearing(0.0, 4.0, 5))
    distance = (torch.rand(e, generator=gen, dtype=torch.float64) * 3.4 + 0.5).to(dtype)
    fx.case("gaussian_smearing", smearing, {"dist": distance}, smearing)
    block = module(InteractionBlock(6, 5, 7, 4.0))
    fx.case("interaction", lambda h, edge_weight, edge_attr: block(h, torch.stack([source, target]), edge_weight, edge_attr),
            {"h": fx.randn(n, 6), "edge_weight": distance, "edge_attr": smearing(distance).detach()}, block)
    ln = module(torch.nn.LayerNorm(5))
    with torch.no_grad():
        ln.weight.copy_(fx.randn(5))
        ln.bias.copy_(fx.randn(5))
    fx.case("layer_norm", ln, {"input": fx.randn(6, 5, scale=2.0)}, ln)
    bn = module(torch.nn.BatchNorm1d(5))
    with torch.no_grad():
        bn.weight.copy_(fx.randn(5))
        bn.bias.copy_(fx.randn(5))
    fx.case("batch_norm", bn, {"input": fx.randn(6, 5, scale=2.0) + 1.0}, bn)
    fx.put("batch_norm.running_mean", bn.running_mean)
    fx.put("batch_norm.running_var", bn.running_var)
    bn.eval()
    fx.put("batch_norm.eval_out", bn(fx.tensors[f"{fx.prefix}.batch_norm.in.input"]))

    x = torch.cat([torch.linspace(-30, 30, 61, dtype=torch.float64), torch.tensor([19.9, 20.0, 20.1, -1e-3, 1e-3], dtype=torch.float64)]).to(dtype)
    ssp = ShiftedSoftplus()
    fx.case("ssp_pyg", ssp, {"x": x})
    fx.case("softplus", torch.nn.functional.softplus, {"input": x})
    fx.case("silu", torch.nn.functional.silu, {"input": x})
    envelope = Envelope(5)  # p = 6
    u = torch.linspace(0.05, 1.2, 24, dtype=torch.float64).to(dtype)
    fx.case("polynomial_cutoff", lambda d: d / 4.0 * envelope(d / 4.0), {"d": u * 4.0})

    radial, cutoff = schnetpack_module("radial"), schnetpack_module("cutoff")
    rbf = module(radial.GaussianRBF(6, 5.0))
    fx.case("spk_gaussian_rbf", rbf, {"inputs": distance}, rbf)
    bessel = module(radial.BesselRBF(6, 5.0))
    fx.case("spk_bessel_rbf", bessel, {"inputs": torch.cat([distance, torch.zeros(1, dtype=dtype)])}, bessel)
    cos = module(cutoff.CosineCutoff(3.0))
    fx.case("spk_cosine_cutoff", cos, {"input": distance}, cos)
    return fx.tensors


def main():
    tensors = {}
    for dtype in [torch.float64, torch.float32]:
        tensors.update(build(dtype))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={"torch": torch.__version__, "torch_geometric": torch_geometric.__version__})
    print(f"wrote {len(tensors)} tensors to {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
