"""Fixture for chem-graph's MPNN features: tests/fixtures/qm9_features.safetensors.

For every 60th molecule of the embedded QM9 sample (crates/chem-graph/data/qm9_sample.safetensors;
50 molecules, less those RDKit cannot perceive), RDKit perceives the bonds from the geometry (`rdDetermineBonds.DetermineBonds`,
charge 0), sanitises the molecule, and this script writes what PyTorch Geometric's QM9 code
(`torch_geometric/datasets/qm9.py`, with sanitisation as in pyg#8400) and the transforms of
`examples/qm9_nn_conv.py` (`Complete()`, `Distance(norm=False)`) make of it, plus the donor and
acceptor flags of RDKit's `BaseFeatures.fdef` (Gilmer et al. 2017, Table 1).

Layout (f64 unless noted), per molecule k: `{k}.x` [n, 11], `{k}.edge_index` (i64) [2, n(n-1)],
`{k}.edge_attr` [n(n-1), 5], `{k}.donor` [n], `{k}.acceptor` [n]; metadata `sample_index` (JSON list
of positions in the sample) and `rdkit` (version).

Run with the reference environment (../shared/reference/setup.sh):
    python tests/reference/qm9_features.py
"""
import json
import os
import pathlib

import numpy as np
import torch
from rdkit import Chem, RDConfig, rdBase
from rdkit.Chem import ChemicalFeatures, rdDetermineBonds
from rdkit.Chem.rdchem import BondType as BT
from rdkit.Chem.rdchem import HybridizationType
from safetensors import safe_open
from safetensors.torch import save_file
from torch_geometric.utils import one_hot, remove_self_loops, scatter

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "crates/chem-graph/data/qm9_sample.safetensors"
OUT = ROOT / "tests/fixtures/qm9_features.safetensors"
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}


def pyg_features(mol, pos):
    """torch_geometric.datasets.QM9.process for one molecule, then Complete() and Distance()."""
    types = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}
    bonds = {BT.SINGLE: 0, BT.DOUBLE: 1, BT.TRIPLE: 2, BT.AROMATIC: 3}
    n = mol.GetNumAtoms()
    type_idx, z, aromatic, sp, sp2, sp3 = [], [], [], [], [], []
    for atom in mol.GetAtoms():
        type_idx.append(types[atom.GetSymbol()])
        z.append(atom.GetAtomicNum())
        aromatic.append(1 if atom.GetIsAromatic() else 0)
        h = atom.GetHybridization()
        sp.append(1 if h == HybridizationType.SP else 0)
        sp2.append(1 if h == HybridizationType.SP2 else 0)
        sp3.append(1 if h == HybridizationType.SP3 else 0)
    z = torch.tensor(z, dtype=torch.long)
    rows, cols, edge_types = [], [], []
    for bond in mol.GetBonds():
        start, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        rows += [start, end]
        cols += [end, start]
        edge_types += 2 * [bonds[bond.GetBondType()]]
    edge_index = torch.tensor([rows, cols], dtype=torch.long)
    edge_attr = one_hot(torch.tensor(edge_types, dtype=torch.long), num_classes=len(bonds)).double()
    perm = (edge_index[0] * n + edge_index[1]).argsort()
    edge_index, edge_attr = edge_index[:, perm], edge_attr[perm]
    row, col = edge_index
    hs = (z == 1).to(torch.double)
    num_hs = scatter(hs[row], col, dim_size=n, reduce="sum").tolist()
    x1 = one_hot(torch.tensor(type_idx), num_classes=len(types)).double()
    x2 = torch.tensor([z.tolist(), aromatic, sp, sp2, sp3, num_hs], dtype=torch.double).t()
    x = torch.cat([x1, x2], dim=-1)
    # Complete() from examples/qm9_nn_conv.py.
    r = torch.arange(n).view(-1, 1).repeat(1, n).view(-1)
    c = torch.arange(n).repeat(n)
    full_index = torch.stack([r, c], dim=0)
    full_attr = edge_attr.new_zeros((n * n, edge_attr.size(1)))
    full_attr[edge_index[0] * n + edge_index[1]] = edge_attr
    full_index, full_attr = remove_self_loops(full_index, full_attr)
    # Distance(norm=False).
    dist = torch.norm(pos[full_index[1]] - pos[full_index[0]], p=2, dim=-1).view(-1, 1)
    return x, full_index, torch.cat([full_attr, dist], dim=-1)


def main():
    with safe_open(SAMPLE, "np") as f:
        offsets = f.get_tensor("atom_offsets")
        numbers = f.get_tensor("numbers")
        positions = f.get_tensor("positions")
    factory = ChemicalFeatures.BuildFeatureFactory(os.path.join(RDConfig.RDDataDir, "BaseFeatures.fdef"))
    tensors, chosen = {}, []
    for m in range(0, len(offsets) - 1, 60):
        a, b = offsets[m], offsets[m + 1]
        xyz = f"{b - a}\n\n" + "".join(
            f"{SYMBOLS[int(zi)]} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}\n" for zi, p in zip(numbers[a:b], positions[a:b])
        )
        mol = Chem.MolFromXYZBlock(xyz)
        try:
            rdDetermineBonds.DetermineBonds(mol, charge=0)
            Chem.SanitizeMol(mol)
        except ValueError as e:  # RDKit's xyz2mol gives up on a few molecules; they are left out
            print(f"sample molecule {m} skipped: {e}")
            continue
        pos = torch.tensor(positions[a:b], dtype=torch.double)
        x, edge_index, edge_attr = pyg_features(mol, pos)
        donor, acceptor = np.zeros(b - a), np.zeros(b - a)
        for feat in factory.GetFeaturesForMol(mol):
            target = donor if feat.GetFamily() == "Donor" else acceptor if feat.GetFamily() == "Acceptor" else None
            if target is not None:
                target[list(feat.GetAtomIds())] = 1.0
        k = len(chosen)
        tensors[f"{k}.x"] = x.contiguous()
        tensors[f"{k}.edge_index"] = edge_index.contiguous()
        tensors[f"{k}.edge_attr"] = edge_attr.contiguous()
        tensors[f"{k}.donor"] = torch.from_numpy(donor)
        tensors[f"{k}.acceptor"] = torch.from_numpy(acceptor)
        chosen.append(m)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, OUT, metadata={"sample_index": json.dumps(chosen), "rdkit": rdBase.rdkitVersion})
    print(f"wrote {OUT} ({len(chosen)} molecules)")


if __name__ == "__main__":
    main()
