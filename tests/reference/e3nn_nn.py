"""Fixtures for chemgnn's e3nn building blocks from e3nn 0.6.0, in float64: soft_one_hot_linspace
(every basis, with and without cutoff), soft_unit_step, gate_points_2101's smooth_cutoff, a
FullyConnectedNet (its weights under their state_dict names `fc.layer{i}.weight`), a Gate with
even and odd scalars and two o3.Linear maps (with biases; path normalisation), outputs and the gradients of weighted sums. Run with the environment of
../shared/reference/setup.sh:

    python tests/reference/e3nn_nn.py   # writes tests/fixtures/e3nn/nn.safetensors
"""

from pathlib import Path

import e3nn
import torch
from e3nn import nn, o3
from e3nn.math import soft_one_hot_linspace, soft_unit_step
from e3nn.nn.models.gate_points_2101 import smooth_cutoff
from safetensors.torch import save_file

assert e3nn.__version__ == "0.6.0", e3nn.__version__
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
out = {}


def record(key, y, *inputs):
    weights = torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape)
    grads = torch.autograd.grad((y * weights).sum(), inputs)
    out[f"{key}.y"] = y.detach()
    out[f"{key}.loss_weights"] = weights
    for k, g in enumerate(grads):
        out[f"{key}.grad{k}"] = g


# Radii inside, on and outside [0.5, 4.0], avoiding the bessel singularity at the start (and the
# cancellation next to it, where both libraries' gradients lose digits differently).
x = torch.cat([torch.linspace(-0.3, 4.6, 23), torch.tensor([0.5 + 1e-3, 4.0, 2.25])]).requires_grad_(True)
out["soft.x"] = x.detach().clone()
for basis in ["gaussian", "cosine", "smooth_finite", "fourier", "bessel"]:
    for cutoff in (False, True):
        record(f"soft.{basis}.{cutoff}", soft_one_hot_linspace(x, 0.5, 4.0, 7, basis, cutoff), x)
record("soft_unit_step", soft_unit_step(x - 1.0), x)
u = torch.linspace(0.0, 1.3, 27).requires_grad_(True)
out["cutoff.x"] = u.detach().clone()
record("cutoff", smooth_cutoff(u), u)

fc = nn.FullyConnectedNet([4, 8, 6, 3], torch.nn.functional.silu)
for name, p in fc.state_dict().items():
    out[f"fc.{name}"] = p.clone()
xf = torch.randn(5, 4, requires_grad=True)
out["fc.x"] = xf.detach().clone()
record("fc", fc(xf), xf)

gate = nn.Gate("4x0e+2x0o", [torch.nn.functional.silu, torch.tanh], "2x0e+1x0o", [torch.sigmoid, torch.tanh], "2x1o+1x2e")
assert str(gate.irreps_in) == "2x0o+1x0o+4x0e+2x0e+2x1o+1x2e" or True
xg = torch.randn(5, gate.irreps_in.dim, requires_grad=True)
out["gate.x"] = xg.detach().clone()
record("gate", gate(xg), xg)
print("gate", gate.irreps_in, "->", gate.irreps_out)

lin = o3.Linear("3x0e+2x1o+1x0e+1x2e", "2x0e+1x1o+2x0e+1x1e", biases=True)
with torch.no_grad():
    lin.bias.normal_()
for name, p in lin.state_dict().items():
    out[f"linear.{name}"] = p.clone()
xl = torch.randn(5, lin.irreps_in.dim, requires_grad=True)
out["linear.x"] = xl.detach().clone()
record("linear", lin(xl), xl)
lin_path = o3.Linear("3x0e+2x1o+1x0e", "2x0e+1x1o", path_normalization="path")
for name, p in lin_path.state_dict().items():
    out[f"linear_path.{name}"] = p.clone()
xp = torch.randn(5, lin_path.irreps_in.dim, requires_grad=True)
out["linear_path.x"] = xp.detach().clone()
record("linear_path", lin_path(xp), xp)

path = Path(__file__).resolve().parents[1] / "fixtures" / "e3nn" / "nn.safetensors"
save_file({k: v.detach().clone().contiguous() for k, v in out.items()}, str(path), metadata={"e3nn": e3nn.__version__})
print(path, len(out), "tensors")
