"""Fixture for chemgnn's gate_points_2101 network from e3nn 0.6.0: a Network with node inputs and
attributes, random weights (e3nn's initialisation), its constructor arguments as ARGS.json and its
state_dict as safetensors, as an e3nn user exports them, run on three small molecules (one batch)
in float64 and float32: per-graph outputs and their gradients with respect to the positions. Also a
second, minimal network (no node inputs or attributes, reduce_output=False), and a third on three
real QM9 molecules of the embedded sample (harmonics up to l = 3, three layers, l = 0, 1, 2
outputs). Run with the environment of
../shared/reference/setup.sh:

    python tests/reference/e3nn_gate_points.py   # writes tests/fixtures/e3nn/gate_points_*
"""

import copy
import json
from pathlib import Path

import e3nn
import torch
from e3nn.nn.models import gate_points_2101
from e3nn.nn.models.gate_points_2101 import Network
from safetensors.torch import save_file

assert e3nn.__version__ == "0.6.0", e3nn.__version__


def exact_radius_graph(pos, r_max, batch):
    """e3nn's naive radius graph with exact distances. e3nn 0.6 takes them from `torch.cdist`, which
    for more than 25 points uses |a|² + |b|² − 2a·b: self-distances come out as ~1e-8 instead of 0,
    so some atoms get a self-loop (7 of the 48 atoms of the QM9 case). chemgnn never adds them."""
    r = (pos[:, None, :] - pos[None, :, :]).norm(dim=-1)
    index = ((r < r_max) & (r > 0)).nonzero().T
    return index[:, batch[index[0]] == batch[index[1]]]


gate_points_2101.radius_graph = exact_radius_graph
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
root = Path(__file__).resolve().parents[1] / "fixtures" / "e3nn"

CASES = {
    "full": dict(irreps_in="5x0e", irreps_hidden="8x0e+8x0o+4x1e+4x1o+2x2e", irreps_out="2x0e+1x1o",
                 irreps_node_attr="5x0e", irreps_edge_attr="1x0e+1x1o+1x2e", layers=2, max_radius=3.0,
                 number_of_basis=8, radial_layers=1, radial_neurons=16, num_neighbors=4.0, num_nodes=5.0,
                 reduce_output=True),
    "minimal": dict(irreps_in=None, irreps_hidden="4x0e+2x1o", irreps_out="1x0e+1x1o", irreps_node_attr=None,
                    irreps_edge_attr="1x0e+1x1o", layers=1, max_radius=2.5, number_of_basis=5, radial_layers=1,
                    radial_neurons=8, num_neighbors=3.0, num_nodes=4.0, reduce_output=False),
    "qm9": dict(irreps_in="5x0e", irreps_hidden="6x0e+6x0o+3x1e+3x1o+2x2e+2x2o", irreps_out="1x0e+1x1o+1x2e",
                irreps_node_attr="5x0e", irreps_edge_attr="1x0e+1x1o+1x2e+1x3o", layers=3, max_radius=3.0,
                number_of_basis=6, radial_layers=2, radial_neurons=12, num_neighbors=8.0, num_nodes=18.0,
                reduce_output=True),
}


def qm9_molecules(indices):
    """Positions (Å), graph index and one-hot H, C, N, O, F of molecules of the embedded QM9 sample."""
    from safetensors.numpy import load_file

    t = load_file(str(Path(__file__).resolve().parents[2] / "crates" / "chem-graph" / "data" / "qm9_sample.safetensors"))
    pos, batch, species = [], [], []
    for k, m in enumerate(indices):
        a, b = t["atom_offsets"][m], t["atom_offsets"][m + 1]
        pos.append(torch.tensor(t["positions"][a:b]))
        batch.append(torch.full((b - a,), k, dtype=torch.long))
        species.append(torch.tensor([[1, 6, 7, 8, 9].index(int(z)) for z in t["numbers"][a:b]]))
    return torch.cat(pos), torch.cat(batch), torch.nn.functional.one_hot(torch.cat(species), 5).double()

# Three molecules: 5, 4 and 6 atoms within a few angstroms.
counts = [5, 4, 6]
pos = torch.cat([torch.randn(n, 3) * 1.2 for n in counts])
batch = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])
species = torch.tensor([0, 1, 1, 2, 4, 0, 3, 3, 1, 0, 2, 2, 1, 4, 0])
onehot = torch.nn.functional.one_hot(species, 5).double()

for name, args in CASES.items():
    if name == "qm9":
        pos, batch, onehot = qm9_molecules([5, 777, 2500])
    net = Network(**args)
    # Non-zero everywhere (e3nn initialises TP weights with randn already).
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(root / f"gate_points_{name}.safetensors"))
    (root / f"gate_points_{name}.json").write_text(json.dumps(args, indent=1) + "\n")
    p = pos.clone().requires_grad_(True)
    data = {"pos": p, "batch": batch}
    if args["irreps_in"] is not None:
        data["x"] = onehot
    if args["irreps_node_attr"] is not None:
        data["z"] = onehot
    y = net(data)
    weights = torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape)
    (g,) = torch.autograd.grad((y * weights).sum(), p)
    # The same network and inputs in float32.
    net32 = copy.deepcopy(net).float()
    p32 = pos.float().requires_grad_(True)
    data32 = {k: (v.float() if v.is_floating_point() else v) for k, v in data.items()}
    data32["pos"] = p32
    y32 = net32(data32)
    (g32,) = torch.autograd.grad((y32 * weights.float()).sum(), p32)
    save_file({"pos": pos.clone(), "batch": batch.clone(), "onehot": onehot.clone(), "y": y.detach().clone(),
               "loss_weights": weights, "grad_pos": g, "y32": y32.detach().clone(), "grad_pos32": g32},
              str(root / f"gate_points_{name}_io.safetensors"))
    print(name, tuple(y.shape), sorted(state)[:6], len(state))
