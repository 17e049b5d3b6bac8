"""Fixtures for chemgnn's o3::TensorProduct from e3nn 0.6.0: every connection mode (with and
without weights, several instructions into one output, an output no instruction reaches), both
irrep and path normalisations with variances, shared and per-sample weights, a
FullyConnectedTensorProduct, an ElementwiseTensorProduct and a FullTensorProduct; outputs and the gradients of a weighted sum with respect to both
inputs and the weights, in float64. Run with the environment of ../shared/reference/setup.sh:

    python tests/reference/e3nn_tensor_products.py
    # writes tests/fixtures/e3nn/tensor_products.{safetensors,json}
"""

import json
from pathlib import Path

import e3nn
import torch
from e3nn import o3
from safetensors.torch import save_file

assert e3nn.__version__ == "0.6.0", e3nn.__version__
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)

IN1, IN2 = "2x0e+2x1o+1x2e", "2x0e+1x1o+2x1e"
OUT = "3x0e+2x1o+2x1e+3x2o+1x0o+2x0e+2x1o+4x2o+1x0e"
MODES = [
    (1, 1, 0, "uvw", True),
    (1, 0, 1, "uvu", True),
    (1, 0, 1, "uvu", False),
    (0, 2, 2, "uvv", True),
    (0, 2, 2, "uvv", False),
    (1, 2, 3, "uuw", True),
    (1, 2, 4, "uuw", False),
    (0, 0, 5, "uuu", True),
    (1, 2, 6, "uuu", False),
    (1, 2, 7, "uvuv", True),
]
CASES = {
    "modes": dict(irreps_in1=IN1, irreps_in2=IN2, irreps_out=OUT, instructions=MODES),
    "modes_norm_path": dict(
        irreps_in1=IN1,
        irreps_in2=IN2,
        irreps_out=OUT,
        instructions=[m + (0.5 + k / 4,) for k, m in enumerate(MODES)],
        irrep_normalization="norm",
        path_normalization="path",
        in1_var=[1.0, 2.0, 0.5],
        in2_var=[0.3, 1.0, 4.0],
        out_var=[1.0, 2.0, 1.0, 0.5, 1.0, 3.0, 1.0, 1.0, 1.0],
    ),
}
BATCH = 5
tensors, configs = {}, {}


def run(name, make, config, layouts=(True, False)):
    """`make(shared)` builds the product for shared or per-sample weights."""
    probe = make(True)
    x1 = torch.randn(BATCH, probe.irreps_in1.dim, requires_grad=True)
    x2 = torch.randn(BATCH, probe.irreps_in2.dim, requires_grad=True)
    for shared in layouts:
        tp = make(shared)
        w = torch.randn((tp.weight_numel,) if shared else (BATCH, tp.weight_numel), requires_grad=True)
        out = tp(x1, x2, w)
        weights = torch.linspace(-1.0, 1.0, out.numel()).reshape(out.shape)
        g1, g2, gw = torch.autograd.grad((out * weights).sum(), (x1, x2, w), allow_unused=True)
        gw = torch.zeros_like(w) if gw is None else gw
        key = f"{name}.{'shared' if shared else 'batch'}"
        tensors.update({f"{key}.x1": x1.detach(), f"{key}.x2": x2.detach(), f"{key}.w": w.detach(),
                        f"{key}.out": out.detach(), f"{key}.grad_x1": g1, f"{key}.grad_x2": g2, f"{key}.grad_w": gw,
                        f"{key}.loss_weights": weights})
    configs[name] = config


for name, case in CASES.items():
    kwargs = {k: v for k, v in case.items() if k not in ("irreps_in1", "irreps_in2", "irreps_out", "instructions")}
    config = dict(
        irreps_in1=case["irreps_in1"], irreps_in2=case["irreps_in2"], irreps_out=case["irreps_out"],
        instructions=[dict(i_in1=i[0], i_in2=i[1], i_out=i[2], mode=i[3], has_weight=i[4],
                           path_weight=i[5] if len(i) > 5 else 1.0) for i in case["instructions"]],
        **kwargs,
    )
    run(name, lambda shared, case=case, kwargs=kwargs: o3.TensorProduct(
        case["irreps_in1"], case["irreps_in2"], case["irreps_out"], case["instructions"],
        internal_weights=False, shared_weights=shared, **kwargs), config)

FC = ("2x0e+2x1o+1x2e", "1x0e+1x1o+1x2e", "3x0e+2x1o+2x1e+1x2e")
run("fully_connected", lambda shared: o3.FullyConnectedTensorProduct(*FC, internal_weights=False, shared_weights=shared),
    dict(irreps_in1=FC[0], irreps_in2=FC[1], irreps_out=FC[2], fully_connected=True))

EW = ("2x0e+3x1o+1x2e", "1x0e+2x0o+3x1e")
run("elementwise", lambda shared: o3.ElementwiseTensorProduct(*EW),
    dict(irreps_in1=EW[0], irreps_in2=EW[1], elementwise=True), layouts=(True,))
FULL = ("2x0e+1x1o+1x1o", "1x0e+2x1e")
run("full", lambda shared: o3.FullTensorProduct(*FULL), dict(irreps_in1=FULL[0], irreps_in2=FULL[1], full=True),
    layouts=(True,))

root = Path(__file__).resolve().parents[1] / "fixtures" / "e3nn"
root.mkdir(parents=True, exist_ok=True)
save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, str(root / "tensor_products.safetensors"),
          metadata={"e3nn": e3nn.__version__})
(root / "tensor_products.json").write_text(json.dumps(configs, indent=1) + "\n")
print(len(tensors), "tensors,", len(configs), "configurations")
