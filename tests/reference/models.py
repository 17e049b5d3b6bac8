"""Fixtures for model import/predict parity: tests/fixtures/models/<case>/.

Each case directory holds what a PyTorch user hands to `chemgnn import` and `chemgnn predict`, and
what PyTorch computed:

- `state_dict.safetensors`: the model's state_dict, saved as users do (PyG SchNet's aliased
  `mlp`/`conv.nn` tensors saved once, under either name);
- `args.json`: the constructor's keyword arguments, under their Python names;
- `batch.safetensors`: the PyG `Batch` fields the model was run on (`z`, `pos`, `batch`, and for
  the MPNN `x`, `edge_index`, `edge_attr`), real QM9 molecules from the embedded sample;
- `expected.safetensors`: `out` (the model's output per molecule) and, for SchNet, `forces`
  (−∂Σout/∂pos).

Cases: PyG SchNet with default arguments (f32), PyG SchNet with non-default arguments, mean/std and
atomref (f64), PyG SchNet dipole (f32), schnetpack 2 SchNet + Atomwise + AddOffsets (f32 and f64),
and the PyG QM9 example's NNConv/GRU/Set2Set network (f32). Weights are the libraries' random
initialisation plus noise (so that biases are not zero).

PyG's radius graph needs torch-cluster, which the reference environment lacks: SchNet gets an
equivalent pure-torch `interaction_graph` (all pairs closer than the cutoff within a molecule; QM9
never reaches 32 neighbours). schnetpack's package import needs `pytorch_lightning`, `hydra-core`,
`torchmetrics`, `h5py`, `torch-ema` and a shim for `T_co` (removed from torch 2.15).

Run with the reference environment (../shared/reference/setup.sh, then
`pip install pytorch_lightning hydra-core torchmetrics h5py rdkit; pip install --no-deps torch-ema`):
    python tests/reference/models.py
"""
import json
import pathlib
import typing

import torch
import torch.utils.data.dataloader as _dataloader
from safetensors.torch import load_file, save_file, save_model
from torch_geometric.data import Batch, Data
from torch_geometric.nn.models import SchNet
from torch_geometric.utils import remove_self_loops

_dataloader.T_co = typing.TypeVar("T_co", covariant=True)  # schnetpack 2.1 imports it
import schnetpack as spk  # noqa: E402
import schnetpack.properties as P  # noqa: E402
from pyg_qm9_net import QM9Net  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "models"
SAMPLE = ROOT / "crates" / "chem-graph" / "data" / "qm9_sample.safetensors"
# Molecules of the embedded QM9 sample: sizes 3 to 27 atoms, with N, O and F.
MOLECULES = [0, 2, 5, 17, 120, 999, 1500, 2999]


def qm9_molecules(dtype, molecules=MOLECULES):
    data = load_file(SAMPLE)
    offsets = data["atom_offsets"].tolist()
    out = []
    for m in molecules:
        a, b = offsets[m], offsets[m + 1]
        out.append((data["numbers"][a:b].long(), data["positions"][a:b].to(dtype)))
    return out


def pairs_within(pos, batch, cutoff):
    """All ordered pairs (j, i), j != i, in the same molecule, closer than `cutoff` (PyG order: row = source)."""
    d = torch.cdist(pos, pos)
    mask = (d < cutoff) & (batch[:, None] == batch[None, :])
    mask.fill_diagonal_(False)
    row, col = mask.nonzero(as_tuple=True)
    return torch.stack([row, col])


class RadiusGraph(torch.nn.Module):
    """PyG's RadiusInteractionGraph without torch-cluster."""

    def __init__(self, cutoff):
        super().__init__()
        self.cutoff = cutoff

    def forward(self, pos, batch):
        edge_index = pairs_within(pos.detach(), batch, self.cutoff)
        row, col = edge_index
        return edge_index, (pos[row] - pos[col]).norm(dim=-1)


def perturb(model, gen, scale=0.1):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def write_case(name, state_dict_writer, args, batch_fields, expected):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    state_dict_writer(d / "state_dict.safetensors")
    (d / "args.json").write_text(json.dumps(args, indent=1) + "\n")
    save_file({k: v.contiguous() for k, v in batch_fields.items()}, d / "batch.safetensors")
    save_file({k: v.detach().contiguous() for k, v in expected.items()}, d / "expected.safetensors")


def batch_of(dtype, molecules=MOLECULES):
    mols = qm9_molecules(dtype, molecules)
    z = torch.cat([m[0] for m in mols])
    pos = torch.cat([m[1] for m in mols])
    batch = torch.cat([torch.full((len(m[0]),), k, dtype=torch.long) for k, m in enumerate(mols)])
    return z, pos, batch


def energy_and_forces(forward, pos):
    pos = pos.clone().requires_grad_(True)
    out = forward(pos)
    (grad,) = torch.autograd.grad(out.sum(), pos)
    return out, -grad


def pyg_schnet_case(name, dtype, args, seed, mlp_names=False):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    kwargs = dict(args)
    if "atomref" in kwargs:
        kwargs["atomref"] = torch.tensor(kwargs["atomref"], dtype=dtype)
    model = SchNet(**kwargs, interaction_graph=RadiusGraph(args.get("cutoff", 10.0))).to(dtype)
    perturb(model, gen)
    z, pos, batch = batch_of(dtype)
    if args.get("dipole"):
        out = model(z, pos, batch)
        expected = {"out": out}
    else:
        out, forces = energy_and_forces(lambda p: model(z, p, batch), pos)
        expected = {"out": out, "forces": forces}

    def write(path):
        if mlp_names:  # keep the `mlp` name of each filter network (save_model keeps `conv.nn`)
            sd = {k: v.clone().contiguous() for k, v in model.state_dict().items() if ".conv.nn." not in k}
            save_file(sd, path)
        else:
            save_model(model, str(path))

    write_case(name, write, args, {"z": z, "pos": pos, "batch": batch}, expected)


def schnetpack_case(name, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cutoff, n_rbf, n_atom_basis = 5.0, 20, 32
    atomref = torch.randn(100, generator=gen, dtype=torch.float64)
    mean = torch.tensor([-0.37], dtype=torch.float64)
    representation = spk.representation.SchNet(
        n_atom_basis=n_atom_basis,
        n_interactions=3,
        radial_basis=spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff),
        cutoff_fn=spk.nn.CosineCutoff(cutoff),
        n_filters=48,
    )
    model = spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=n_atom_basis, output_key="energy")],
        postprocessors=[
            spk.transform.CastTo64(),
            spk.transform.AddOffsets("energy", add_mean=True, add_atomrefs=True),
        ],
        input_dtype_str="float64" if dtype == torch.float64 else "float32",
    ).to(dtype)
    # AddOffsets(atomrefs=tensor) fails in schnetpack 2.1.1 (`tensor or zeros`); set the float64
    # buffers as a trained model carries them.
    model.postprocessors[1].atomref = atomref
    model.postprocessors[1].mean = mean
    perturb(model, gen)
    model.eval()
    z, pos, batch = batch_of(dtype)

    def forward(p):
        idx_j, idx_i = pairs_within(p.detach(), batch, cutoff)
        inputs = {
            P.Z: z,
            P.R: p,
            P.idx_m: batch,
            P.n_atoms: torch.bincount(batch),
            P.idx_i: idx_i,
            P.idx_j: idx_j,
            P.offsets: torch.zeros((len(idx_i), 3), dtype=dtype),
            P.cell: torch.zeros((len(MOLECULES), 3, 3), dtype=dtype),
            P.pbc: torch.zeros((len(MOLECULES), 3), dtype=torch.bool),
        }
        return model(inputs)["energy"]

    out, forces = energy_and_forces(forward, pos)
    args = {"n_atom_basis": n_atom_basis, "n_interactions": 3, "n_filters": 48, "n_rbf": n_rbf, "cutoff": cutoff}
    write_case(
        name,
        lambda path: save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path),
        args,
        {"z": z, "pos": pos, "batch": batch},
        {"out": out.view(-1, 1), "forces": forces},
    )


def pyg_qm9_graph(z, pos):
    """PyG's QM9 featurisation (datasets/qm9.py) on bonds from RDKit's DetermineBonds, then the
    example's Complete() and Distance(norm=False) transforms."""
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds

    symbols = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}
    xyz = f"{len(z)}\n\n" + "".join(f"{symbols[int(a)]} {x:.10f} {y:.10f} {w:.10f}\n" for a, (x, y, w) in zip(z, pos.tolist()))
    mol = Chem.MolFromXYZBlock(xyz)
    rdDetermineBonds.DetermineBonds(mol, charge=0)
    types = {1: 0, 6: 1, 7: 2, 8: 3, 9: 4}
    hyb = Chem.rdchem.HybridizationType
    rows = []
    for atom in mol.GetAtoms():
        h = atom.GetHybridization()
        num_hs = sum(1 for n in atom.GetNeighbors() if n.GetAtomicNum() == 1)
        one_hot = [0.0] * 5
        one_hot[types[atom.GetAtomicNum()]] = 1.0
        rows.append(one_hot + [float(atom.GetAtomicNum()), float(atom.GetIsAromatic()), float(h == hyb.SP),
                               float(h == hyb.SP2), float(h == hyb.SP3), float(num_hs)])
    bond_types = {Chem.BondType.SINGLE: 0, Chem.BondType.DOUBLE: 1, Chem.BondType.TRIPLE: 2, Chem.BondType.AROMATIC: 3}
    n = len(z)
    dense = torch.zeros(n * n, 4)
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        for a, c in ((i, j), (j, i)):
            dense[a * n + c, bond_types[b.GetBondType()]] = 1.0
    row = torch.arange(n).view(-1, 1).repeat(1, n).view(-1)
    col = torch.arange(n).repeat(n)
    edge_index, edge_attr = remove_self_loops(torch.stack([row, col]), dense)
    dist = (pos[edge_index[1]] - pos[edge_index[0]]).norm(dim=-1, keepdim=True)
    return Data(x=torch.tensor(rows), edge_index=edge_index, edge_attr=torch.cat([edge_attr, dist.float()], 1), pos=pos, z=z)


def mpnn_case(name, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = QM9Net()
    perturb(model, gen, 0.05)
    # Molecules RDKit's DetermineBonds can perceive (it fails on a few, e.g. 0, 1500 and 2999 of the sample).
    molecules = [1, 2, 3, 5, 7, 17, 120, 999]
    z, pos, batch = batch_of(torch.float32, molecules)
    graphs = [pyg_qm9_graph(z[batch == k], pos[batch == k]) for k in range(len(molecules))]
    data = Batch.from_data_list(graphs)
    out = model(data).view(-1, 1)
    fields = {"z": data.z, "pos": data.pos, "batch": data.batch, "x": data.x, "edge_index": data.edge_index,
              "edge_attr": data.edge_attr}
    write_case(name, lambda path: save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path), {},
               fields, {"out": out})


def main():
    gen = torch.Generator().manual_seed(7)
    atomref = (torch.randn(100, generator=gen, dtype=torch.float64) * 0.3).tolist()
    pyg_schnet_case("pyg_schnet_default", torch.float32, {}, seed=1)
    custom = {"hidden_channels": 32, "num_filters": 48, "num_interactions": 2, "num_gaussians": 25, "cutoff": 5.0,
              "max_num_neighbors": 32, "readout": "mean", "mean": -1.25, "std": 0.5, "atomref": [[a] for a in atomref]}
    pyg_schnet_case("pyg_schnet_custom_f64", torch.float64, custom, seed=2, mlp_names=True)
    pyg_schnet_case("pyg_schnet_dipole", torch.float32, {"hidden_channels": 32, "num_filters": 32,
                                                         "num_interactions": 2, "dipole": True}, seed=3)
    schnetpack_case("schnetpack_schnet", torch.float32, seed=4)
    schnetpack_case("schnetpack_schnet_f64", torch.float64, seed=5)
    mpnn_case("pyg_qm9_mpnn", seed=6)


if __name__ == "__main__":
    main()
