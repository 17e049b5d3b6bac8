"""Fixture for stress: tests/fixtures/models/schnetpack_stress_f64/.

A schnetpack 2 SchNet (+ Atomwise + AddOffsets, f64) with schnetpack's own strain derivative —
`spk.atomistic.Strain` as an input module before `PairwiseDistances`, and
`spk.atomistic.Forces(calc_forces=True, calc_stress=True)` — on three periodic crystals (a rock-salt
primitive cell, a distorted triclinic cell, a slab-like orthorhombic cell), with ASE's periodic
neighbour list (every image within the cutoff). Files: `state_dict.safetensors`, `args.json`,
`crystals.safetensors` (`numbers`, `positions`, `cells`, `atom_offsets`) and `expected.safetensors`
(`energy` [crystals], `forces` [atoms, 3], `stress` [crystals, 3, 3], schnetpack's σ = (1/V) ∂E/∂ε).
Weights: schnetpack's initialisation plus noise.

Run with the reference environment plus schnetpack (see models.py; `pip install schnetpack` may
downgrade torch: reinstall the reference torch afterwards). Generated with schnetpack 2.1.1, ASE 3.29,
torch 2.4.1:
    python tests/reference/schnetpack_stress.py
"""

import json
import pathlib
import typing

import torch
import torch.utils.data.dataloader as _dataloader
from ase.neighborlist import primitive_neighbor_list
from safetensors.torch import save_file

_dataloader.T_co = typing.TypeVar("T_co", covariant=True)  # schnetpack 2.1 imports it
import schnetpack as spk  # noqa: E402
import schnetpack.properties as P  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "models" / "schnetpack_stress_f64"
CUTOFF = 5.0

CRYSTALS = [
    ([11, 17], [[0.0, 0.0, 0.0], [2.82, 2.82, 2.82]], [[0.0, 2.82, 2.82], [2.82, 0.0, 2.82], [2.82, 2.82, 0.0]]),
    ([8, 14, 1], [[0.1, 0.2, 0.0], [1.6, 1.4, 1.7], [2.4, 0.3, 1.1]],
     [[3.1, 0.2, -0.1], [0.4, 2.9, 0.3], [-0.2, 0.5, 3.3]]),
    ([6, 6, 7, 1], [[0.0, 0.0, 0.0], [1.4, 0.1, 0.0], [2.1, 1.2, 0.3], [0.5, 1.9, 4.0]],
     [[4.2, 0.0, 0.0], [0.0, 3.7, 0.0], [0.0, 0.0, 7.5]]),
]


def main():
    gen = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    dtype = torch.float64
    n_atom_basis, n_rbf, n_filters, n_interactions = 32, 20, 48, 3
    representation = spk.representation.SchNet(
        n_atom_basis=n_atom_basis,
        n_interactions=n_interactions,
        radial_basis=spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=CUTOFF),
        cutoff_fn=spk.nn.CosineCutoff(CUTOFF),
        n_filters=n_filters,
    )
    model = spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.Strain(), spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=n_atom_basis, output_key="energy"),
            spk.atomistic.Forces(calc_forces=True, calc_stress=True),
        ],
        postprocessors=[spk.transform.CastTo64(), spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True)],
        input_dtype_str="float64",
    ).to(dtype)
    model.postprocessors[1].atomref = torch.randn(100, generator=gen, dtype=dtype)
    model.postprocessors[1].mean = torch.tensor([-0.37], dtype=dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    model.eval()

    numbers, positions, cells, idx_m, idx_i, idx_j, offsets, atom_offsets = [], [], [], [], [], [], [], [0]
    for k, (z, pos, cell) in enumerate(CRYSTALS):
        pos_t, cell_t = torch.tensor(pos, dtype=dtype), torch.tensor(cell, dtype=dtype)
        i, j, s = primitive_neighbor_list("ijS", [True] * 3, cell_t.numpy(), pos_t.numpy(), CUTOFF)
        base = atom_offsets[-1]
        idx_i.append(torch.tensor(i) + base)
        idx_j.append(torch.tensor(j) + base)
        offsets.append(torch.tensor(s, dtype=dtype) @ cell_t)
        numbers.append(torch.tensor(z))
        positions.append(pos_t)
        cells.append(cell_t)
        idx_m.append(torch.full((len(z),), k))
        atom_offsets.append(base + len(z))
    inputs = {
        P.Z: torch.cat(numbers),
        P.R: torch.cat(positions),
        P.cell: torch.stack(cells),
        P.pbc: torch.ones((len(CRYSTALS), 3), dtype=torch.bool),
        P.idx_m: torch.cat(idx_m),
        P.n_atoms: torch.tensor([len(z) for z, _, _ in CRYSTALS]),
        P.idx_i: torch.cat(idx_i),
        P.idx_j: torch.cat(idx_j),
        P.offsets: torch.cat(offsets),
    }
    results = model(inputs)
    OUT.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / "state_dict.safetensors")
    args = {"n_atom_basis": n_atom_basis, "n_interactions": n_interactions, "n_filters": n_filters,
            "n_rbf": n_rbf, "cutoff": CUTOFF}
    (OUT / "args.json").write_text(json.dumps(args, indent=1) + "\n")
    save_file({"numbers": inputs[P.Z], "positions": inputs[P.R], "cells": inputs[P.cell],
               "atom_offsets": torch.tensor(atom_offsets)}, OUT / "crystals.safetensors")
    save_file({"energy": results["energy"].detach().contiguous(), "forces": results["forces"].detach().contiguous(),
               "stress": results["stress"].detach().contiguous()}, OUT / "expected.safetensors")
    print({k: results[k].detach().flatten()[:6].tolist() for k in ("energy", "stress")})


if __name__ == "__main__":
    main()
