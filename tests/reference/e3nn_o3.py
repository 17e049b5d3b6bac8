"""Fixtures for chemgnn's o3 module from e3nn 0.6.0: spherical harmonics of random vectors (every
normalisation, with and without input normalisation, degrees 0-8, and their input gradients) and
the Wigner 3j tensors of every triple with l <= 4 plus a few larger ones, in float64. Run with the environment of ../shared/reference/setup.sh:

    python tests/reference/e3nn_o3.py   # writes tests/fixtures/e3nn/o3.safetensors
"""

from pathlib import Path

import e3nn
import torch
from e3nn import o3
from safetensors.torch import save_file

assert e3nn.__version__ == "0.6.0", e3nn.__version__
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)

LMAX = 8
out = {}
x = torch.randn(16, 3)
x[3] = torch.tensor([0.0, 2.5, 0.0])  # on the polar axis
x[7] *= 1e-3  # short
irreps = o3.Irreps.spherical_harmonics(LMAX)
for normalize in (True, False):
    for normalization in ("component", "norm", "integral"):
        xv = x.clone().requires_grad_(True)
        y = o3.spherical_harmonics(irreps, xv, normalize=normalize, normalization=normalization)
        weights = torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape)
        (grad,) = torch.autograd.grad((y * weights).sum(), xv)
        key = f"sh.{'normalized' if normalize else 'raw'}.{normalization}"
        out[f"{key}.y"] = y.detach()
        out[f"{key}.grad"] = grad
out["sh.x"] = x
for l1 in range(5):
    for l2 in range(5):
        for l3 in range(abs(l1 - l2), min(l1 + l2, 4) + 1):
            out[f"w3j.{l1}.{l2}.{l3}"] = o3.wigner_3j(l1, l2, l3)
for l1, l2, l3 in [(5, 5, 6), (6, 6, 6), (3, 5, 8), (6, 6, 12)]:
    out[f"w3j.{l1}.{l2}.{l3}"] = o3.wigner_3j(l1, l2, l3)
out["sh.grad_weights"] = torch.linspace(-1.0, 1.0, 16 * irreps.dim).reshape(16, irreps.dim)

path = Path(__file__).resolve().parents[1] / "fixtures" / "e3nn" / "o3.safetensors"
path.parent.mkdir(parents=True, exist_ok=True)
save_file({k: v.contiguous() for k, v in out.items()}, str(path), metadata={"e3nn": e3nn.__version__, "lmax": str(LMAX)})
print(path, len(out), "tensors")
