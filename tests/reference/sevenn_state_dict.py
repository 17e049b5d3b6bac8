"""Writes tests/fixtures/potentials/sevenn_state_dict.json: for both shipped checkpoints
(SevenNet-0 of 11 Jul and of 22 May 2024, SevenNet-l3i5; sevenn 0.13.0), every parameter of
`SevenNetCheckpoint(path).build_model().state_dict()` (the weights after sevenn's
backward-compatibility patches of v0.9 files: sorted convolution paths, flipped 3j signs) as f64
sums: for a vector its sum and the sum of its entries times 1, 2, 3, … (so that a permutation
shows), for a matrix its row sums and column sums. Buffers (output masks, 3j constants) and empty
tensors are left out.

Run in the potentials environment (../shared/reference/setup-potentials.sh):
    python tests/reference/sevenn_state_dict.py
"""

import json
from pathlib import Path

import torch
from sevenn import _const
from sevenn.checkpoint import SevenNetCheckpoint

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "potentials" / "sevenn_state_dict.json"
FILES = {
    "sevennet_0": _const.SEVENNET_0_11Jul2024,
    "sevennet_l3i5": _const.SEVENNET_l3i5,
    "sevennet_0_22may2024": _const.SEVENNET_0_22May2024,
}


def sums(t):
    t = t.detach().double()
    if t.dim() == 1:
        ramp = torch.arange(1, t.numel() + 1, dtype=torch.float64)
        return {"sum": t.sum().item(), "ramp": (t * ramp).sum().item()}
    return {"rows": t.sum(1).tolist(), "cols": t.sum(0).tolist()}


def main():
    doc = {}
    for name, path in FILES.items():
        model = SevenNetCheckpoint(path).build_model()
        doc[name] = {
            k: sums(v)
            for k, v in model.state_dict().items()
            if v.numel() > 0 and "output_mask" not in k and "_w3j_" not in k
        }
        print(name, len(doc[name]), "tensors")
    OUT.write_text(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
