"""schnetpack's side of the ASE comparisons: the fixture's SchNet (tests/fixtures/models/
schnetpack_stress_f64, see tests/reference/schnetpack_stress.py) rebuilt in schnetpack 2, saved as the
whole-model file `SpkCalculator` loads, and the `SpkCalculator` on it (f64, ASE neighbour list)."""

import json
import os
import pathlib
import typing

import torch
import torch.utils.data.dataloader as _dataloader
from safetensors.torch import load_file

_dataloader.T_co = typing.TypeVar("T_co", covariant=True)  # schnetpack 2.1 imports it
import schnetpack as spk  # noqa: E402

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "models" / "schnetpack_stress_f64"


def spk_calculator(tmp_dir, skin=0.0):
    """schnetpack's calculator on the fixture's weights; with `skin` > 0 its neighbour list is a
    `SkinNeighborList` (pairs within cutoff + skin, rebuilt when atoms moved beyond the skin)."""
    args = json.loads((FIXTURE / "args.json").read_text())
    representation = spk.representation.SchNet(
        n_atom_basis=args["n_atom_basis"],
        n_interactions=args["n_interactions"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=args["n_rbf"], cutoff=args["cutoff"]),
        cutoff_fn=spk.nn.CosineCutoff(args["cutoff"]),
        n_filters=args["n_filters"],
    )
    model = spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=args["n_atom_basis"], output_key="energy"),
                        spk.atomistic.Forces(calc_forces=True, calc_stress=False)],
        postprocessors=[spk.transform.CastTo64(), spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True)],
        input_dtype_str="float64",
    ).to(torch.float64)
    state = load_file(str(FIXTURE / "state_dict.safetensors"))
    model.postprocessors[1].atomref = state["postprocessors.1.atomref"]
    model.postprocessors[1].mean = state["postprocessors.1.mean"]
    model.load_state_dict(state)
    path = pathlib.Path(tmp_dir) / "spk_model.pt"
    torch.save(model, path)
    # schnetpack 2.1 loads whole-model files with torch.load's default, weights-only since torch 2.6;
    # this file was written just above.
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    return spk.interfaces.SpkCalculator(
        model_file=str(path), neighbor_list=neighbor_list(args["cutoff"], skin),
        energy_key="energy", force_key="forces", stress_key="stress", energy_unit="eV", position_unit="Ang",
        dtype=torch.float64)


def neighbor_list(cutoff, skin):
    if skin == 0.0:
        return spk.transform.ASENeighborList(cutoff=cutoff)
    return spk.transform.SkinNeighborList(spk.transform.ASENeighborList(cutoff=cutoff + skin), cutoff_skin=skin)
