"""Fixture for chemgnn's gate_points_2101 network from e3nn 0.6.0: a Network with node inputs and
attributes, random weights (e3nn's initialisation), its constructor arguments as ARGS.json and its
state_dict as safetensors, as an e3nn user exports them, run on three small molecules (one batch)
in float64: per-graph outputs and their gradients with respect to the positions. Also a second,
minimal network (no node inputs or attributes, reduce_output=False). Run with the environment of
../shared/reference/setup.sh:

    python tests/reference/e3nn_gate_points.py   # writes tests/fixtures/e3nn/gate_points_*
"""

import json
from pathlib import Path

import e3nn
import torch
from e3nn.nn.models.gate_points_2101 import Network
from safetensors.torch import save_file

assert e3nn.__version__ == "0.6.0", e3nn.__version__
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
}

# Three molecules: 5, 4 and 6 atoms within a few angstroms.
counts = [5, 4, 6]
pos = torch.cat([torch.randn(n, 3) * 1.2 for n in counts])
batch = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])
species = torch.tensor([0, 1, 1, 2, 4, 0, 3, 3, 1, 0, 2, 2, 1, 4, 0])
onehot = torch.nn.functional.one_hot(species, 5).double()

for name, args in CASES.items():
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
    save_file({"pos": pos.clone(), "batch": batch.clone(), "onehot": onehot.clone(), "y": y.detach().clone(),
               "loss_weights": weights, "grad_pos": g},
              str(root / f"gate_points_{name}_io.safetensors"))
    print(name, tuple(y.shape), sorted(state)[:6], len(state))
