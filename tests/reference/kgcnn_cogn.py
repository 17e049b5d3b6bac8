"""Fixtures for coGN/coNGN import parity against kgcnn 3.1.0: everything in tests/fixtures/kgcnn/,
README.md there included (it describes every file, tensor and convention).

Crystals (`crystals.json`, a list of pymatgen `Structure.as_dict()`): twelve ordered crystals from
tests/fixtures/crystals/*.cif, two random P1 cells (3–5 atoms, Z ≤ 83, distances ≥ 1.5 Å) and two
random symmetric cells from pyxtal (P2₁/c, R-3m), all seeded.

Models: kgcnn's `model_default` (coGN) and `model_default_nested` (coNGN) with every width (128, 160)
set to 32 and the structure unchanged (5 blocks, the same MLP depths, nested GN with GRU, readouts);
fresh session (`clear_session(); set_random_seed(0)`) plus Gaussian noise on every variable.

Graphs: kgcnn's own preprocessors — `KNNAsymmetricUnitCell(24)` and `KNNUnitCell(24)` for coGN,
`VoronoiAsymmetricUnitCell(1e-6)` for coNGN plus the line graph of all ordered pairs of distinct edges
sharing their receiver (kgcnn has no line-graph builder) — stored as kgcnn graph files (ragged
tensors stored flat with row lengths). Predictions: the Keras models on those inputs; the coGN
weights also run in the `crystal_unit_graphs` model on the unit-cell graphs (must agree with the ASU
predictions). Intermediates: input-block outputs, angle embeddings and node features after block 1,
for the first crystal.

Run with the kgcnn environment (bash ../shared/reference/setup-kgcnn.sh); about a minute on 2 cores:
    ~/.cache/chemgnn-kgcnn/bin/python tests/reference/kgcnn_cogn.py
"""
import contextlib
import copy
import io
import json
import logging
import os
import pathlib
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas  # noqa: E402
import tensorflow as tf  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402
from pyxtal import pyxtal  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

from kgcnn.crystal.preprocessor import KNNAsymmetricUnitCell, KNNUnitCell, VoronoiAsymmetricUnitCell  # noqa: E402
from kgcnn.literature.coGN import crystal_unit_graphs, make_model, model_default, model_default_nested  # noqa: E402

logging.disable(logging.WARNING)  # kgcnn logs every model's kwargs at INFO

assert int(pandas.__version__.split(".")[0]) < 3, "kgcnn's element table needs pandas < 3"

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "kgcnn"
# Ordered crystals of many space groups; nacl first (the intermediates are for crystal 0).
CIFS = ["nacl", "cscl", "rutile_tio2", "diamond_si", "wurtzite_zno", "fe_bcc", "hcp_mg", "graphite",
        "srtio3_perovskite", "corundum_al2o3", "alpha_quartz_sio2", "spinel_mgal2o4"]
# pyxtal random symmetric crystals: (name, space group, species, numIons, random_state).
PYXTAL = [("pyxtal_p21c_zncl2", 14, ["Zn", "Cl"], [4, 8], 3),
          ("pyxtal_r-3m_bi2te3", 166, ["Bi", "Te"], [6, 9], 3)]
UNITS = 32
K = 24
COGN_INPUTS = ["offset", "atomic_number", "multiplicity", "edge_indices"]
UNIT_CELL_INPUTS = ["offset", "atomic_number", "edge_indices"]
CONGN_INPUTS = ["offset", "voronoi_ridge_area", "atomic_number", "multiplicity", "line_graph_edge_indices",
                "edge_indices"]
FLOAT_KEYS = ("offset", "voronoi_ridge_area")


# ---------------------------------------------------------------------------------------------- crystals
def random_p1(rng):
    while True:
        lattice = Lattice.from_parameters(*rng.uniform(3.5, 6.0, 3), *rng.uniform(70, 110, 3))
        n = int(rng.integers(3, 6))
        s = Structure(lattice, rng.integers(1, 84, n).tolist(), rng.uniform(0, 1, (n, 3)))
        if s.distance_matrix[np.triu_indices(n, 1)].min() >= 1.5:
            return s


def random_symmetric(group, species, num_ions, seed):
    def make():
        c = pyxtal()
        with contextlib.redirect_stdout(io.StringIO()):
            c.from_random(3, group, species, num_ions, random_state=seed)  # `seed` is for molecular crystals only
        return c.to_pymatgen()

    s = make()
    assert np.allclose(s.cart_coords, make().cart_coords), "pyxtal.from_random is not reproducible"
    return s


def crystals():
    out = []
    for name in CIFS:
        s = Structure.from_file(ROOT / "tests" / "fixtures" / "crystals" / f"{name}.cif")
        assert s.is_ordered, name  # no partial occupancies (disordered_partial.cif is not used)
        out.append((name, f"tests/fixtures/crystals/{name}.cif", s))
    rng = np.random.default_rng(7)
    for k in range(2):
        out.append((f"random_p1_{k}", "random P1 cell (numpy default_rng(7))", random_p1(rng)))
    for name, group, species, num_ions, seed in PYXTAL:
        out.append((name, f"pyxtal `from_random(3, {group}, {species}, {num_ions}, random_state={seed})`",
                    random_symmetric(group, species, num_ions, seed)))
    return out


def kgcnn_falls_back_to_p1(structure):
    """kgcnn's `structure_to_empty_graph` uses P1 (spacegroup 1, identity symmops) when pyxtal raises."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            pyxtal().from_seed(structure)
        return False
    except Exception:
        return True


# -------------------------------------------------------------------------------------------------- models
def json_safe(value):
    return json.loads(json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple) else None))


def reduced(config):
    """Deep copy of a kgcnn config with the paper's width (128 or 160) replaced by UNITS in every
    `units`, `node_size` and `edge_size` (the attention MLPs' [32, 1] and the expansions are kept)."""
    config = copy.deepcopy(config)
    paper = config["input_block_cfg"]["node_size"]

    def walk(v, key=None):
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        if key in ("units", "node_size", "edge_size") and v == paper:
            return UNITS
        return v

    return walk(config)


def build(config):
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # make_model prints its input list
        return make_model(**copy.deepcopy(config))


def add_noise(model, seed, bias_scale):
    """Noise on every variable: N(0, bias_scale) on biases (GRU biases included), N(0, 0.2/sqrt(fan_in))
    on kernels and the embedding. coGN needs small bias noise: its edge MLP ends in a swish whose bias
    is summed over ~26 edges in each of 5 residual blocks (bias noise 0.1 gives predictions of ~500)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = w.numpy()
        scale = bias_scale if v.ndim < 2 or w.name.endswith("bias:0") else 0.2 / np.sqrt(v.shape[0])
        w.assign(v + rng.normal(0, scale, v.shape).astype(np.float32))


# -------------------------------------------------------------------------------------------------- graphs
def line_graph(edge_indices):
    """All ordered pairs (a, b), a != b, of edges with the same receiver (column 0), pairs of edges with
    equal (receiver, sender) included; grouped by receiver ascending, then a, then b."""
    pairs = []
    receivers = edge_indices[:, 0]
    for r in np.unique(receivers):
        incoming = np.flatnonzero(receivers == r)
        pairs += [(a, b) for a in incoming for b in incoming if a != b]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def preprocess(preprocessor, structures, nested=False):
    graphs = []
    for s in structures:
        g = {k: np.asarray(v) for k, v in preprocessor(s).items()}
        # kgcnn 3.1.0's dict output is already [receiver, sender]: `GraphDict.from_networkx(...,
        # reverse_edge_indices=True)` turns the networkx edge (source=neighbour, target=centre) into
        # [target, source]. No swap (matbench's `[:, [1, 0]]` is for CrystalGNNs' graph tuples).
        g["edge_indices"] = np.ascontiguousarray(g["edge_indices"])
        if nested:
            g["line_graph_edge_indices"] = line_graph(g["edge_indices"])
        graphs.append(g)
    return graphs


def check_edge_direction(structures, cell_graphs, asu_graphs):
    """Column 0 is the atom whose neighbourhood the edge belongs to, offsets point from the sender's
    image to the receiver. Unit cells: node i is input site i; its edges (column 0 == i) are its k
    nearest neighbours (ties kept), and offset = (frac[recv] - frac[send] - T) @ L. ASU: every node
    receives its full neighbourhood (>= k edges at column 0)."""
    for s, g, a in zip(structures, cell_graphs, asu_graphs):
        recv, send = g["edge_indices"][:, 0], g["edge_indices"][:, 1]
        frac, lattice = g["frac_coords"], g["lattice_matrix"]
        assert np.allclose(g["offset"], (frac[recv] - frac[send] - g["cell_translation"]) @ lattice, atol=1e-6)
        for i in range(len(s)):
            d = np.sort(np.linalg.norm(g["offset"][recv == i], axis=1))
            ref = np.sort([n.nn_distance for n in s.get_neighbors(s[i], d.max() + 0.5)])
            assert len(d) >= K and np.allclose(d, ref[:len(d)], atol=1e-6), i
            assert len(ref) == len(d) or ref[len(d)] > d[-1] + 1e-9
        counts = np.bincount(a["edge_indices"][:, 0], minlength=len(a["atomic_number"]))
        assert counts.min() >= K, counts


def graph_tensors(graphs, keys, spacegroups):
    """Flat values and row lengths of the model inputs `keys` of every graph dict, plus `spacegroup`."""
    out = {}
    for key in keys:
        values = [g[key] for g in graphs]
        # C-contiguous: safetensors.numpy writes the raw buffer (a column-swapped view would be stored transposed).
        out[key] = np.ascontiguousarray(np.concatenate(values).astype(np.float32 if key in FLOAT_KEYS else np.int64))
        out[key + ".row_lengths"] = np.asarray([len(v) for v in values], dtype=np.int64)
    out["spacegroup"] = np.asarray(spacegroups, dtype=np.int64)
    return out


def ragged(tensors, key, rows=None):
    values, lengths = tensors[key], tensors[key + ".row_lengths"]
    if rows is not None:  # the first `rows` crystals
        values, lengths = values[:lengths[:rows].sum()], lengths[:rows]
    dtype = tf.float32 if key in FLOAT_KEYS else tf.int32  # the kgcnn configs' input dtypes
    return tf.RaggedTensor.from_row_lengths(tf.constant(values, dtype=dtype), lengths)


def predict(model, tensors, names):
    return model([ragged(tensors, n) for n in names], training=False).numpy().astype(np.float32)


# --------------------------------------------------------------------------------------------- intermediates
def layer_of(model, cls):
    found = [layer for layer in model.layers if type(layer).__name__ == cls]
    assert len(found) == 1, (cls, [type(layer).__name__ for layer in model.layers])
    return found[0]


def features(x):
    x = x["features"] if isinstance(x, dict) else x
    return x.values.numpy().astype(np.float32)  # one crystal: the flat values are its rows


def intermediates(model, tensors, nested, expected):
    """Run the model's own layers eagerly on crystal 0, as `make_model` wires them."""
    x = {n: ragged(tensors, n, rows=1) for n in (CONGN_INPUTS if nested else COGN_INPUTS)}
    distance = layer_of(model, "EuclideanNorm")(x["offset"])
    edge_input = (distance, x["voronoi_ridge_area"]) if nested else distance
    node_input = {"features": x["atomic_number"], "multiplicity": tf.cast(x["multiplicity"], tf.float32)}
    out = {}
    global_input = None
    if nested:
        angles, _, _, _ = layer_of(model, "LineGraphAngleDecoder")([None, x["offset"], None, x["line_graph_edge_indices"]])
        angle_embeddings = layer_of(model, "GaussBasisExpansion")(tf.expand_dims(angles, -1))
        global_input = {"line_graph_edge_indices": x["line_graph_edge_indices"], "line_graph_edges": angle_embeddings}
        out["angles"] = angles.values.numpy().astype(np.float32)
        out["angle_embeddings"] = features(angle_embeddings)
    edges, nodes, _, _ = model.get_layer("crystal_input_block")([edge_input, node_input, None, x["edge_indices"]])
    out["input_block.edges"] = features(edges)
    out["input_block.nodes"] = features(nodes)
    sequential = layer_of(model, "SequentialGraphNetwork")
    state = [edges, nodes, global_input, x["edge_indices"]]
    for i, block in enumerate(sequential.graph_network_blocks):
        e, n, g, _ = block(state)
        state = [e, n, g, x["edge_indices"]]  # SequentialGraphNetwork: update_edges/nodes/global all True
        if i == 0:
            out["block_1.nodes"] = features(n)
    output_blocks = [layer for layer in model.layers if layer.name.startswith("graph_network")
                     and layer is not sequential and layer not in sequential.graph_network_blocks]
    assert len(output_blocks) == 1, [layer.name for layer in model.layers]
    _, _, y, _ = output_blocks[0](state)
    y = (y["features"] if isinstance(y, dict) else y).numpy()
    assert np.allclose(y, expected, rtol=1e-5, atol=1e-6), (y, expected)  # the eager path is the model
    return out


# ----------------------------------------------------------------------------------------------------- main
def main():
    OUT.mkdir(parents=True, exist_ok=True)
    named = crystals()
    structures = [s for _, _, s in named]
    json.dump([s.as_dict() for s in structures], open(OUT / "crystals.json", "w"))
    for name, config in [("model_default", model_default), ("crystal_unit_graphs", crystal_unit_graphs),
                         ("model_default_nested", model_default_nested)]:
        json.dump(json_safe(config), open(OUT / f"{name}.json", "w"), indent=1)
    report = {}

    # Graphs.
    asu_graphs = preprocess(KNNAsymmetricUnitCell(k=K, output_graph_as_dict=True), structures)
    cell_graphs = preprocess(KNNUnitCell(k=K, output_graph_as_dict=True), structures)
    voronoi_graphs = preprocess(VoronoiAsymmetricUnitCell(min_ridge_area=1e-6, output_graph_as_dict=True),
                                structures, nested=True)
    check_edge_direction(structures, cell_graphs, asu_graphs)
    # kgcnn's symmetry (the unit-cell graphs are not symmetrised and have no `spacegroup` key).
    spacegroups = [int(g["spacegroup"]) for g in asu_graphs]
    assert spacegroups == [int(g["spacegroup"]) for g in voronoi_graphs]
    asu = graph_tensors(asu_graphs, COGN_INPUTS, spacegroups)
    cell = graph_tensors(cell_graphs, UNIT_CELL_INPUTS, spacegroups)
    vor = graph_tensors(voronoi_graphs, CONGN_INPUTS, spacegroups)
    save_file(asu, OUT / "cogn_asu_graphs.safetensors")
    save_file(cell, OUT / "cogn_unit_cell_graphs.safetensors")
    save_file(vor, OUT / "congn_asu_graphs.safetensors")

    # coGN: one set of weights for the ASU model and the unit-cell model.
    cogn_args = reduced(model_default)
    json.dump(json_safe(cogn_args), open(OUT / "cogn_args.json", "w"), indent=1)
    model = build(cogn_args)
    add_noise(model, 1, bias_scale=0.01)
    weights = {w.name: w.numpy() for w in model.weights}
    assert len(weights) == len(model.weights)
    save_file(weights, OUT / "cogn_weights.safetensors")
    y_asu = predict(model, asu, COGN_INPUTS)
    cogn_intermediates = intermediates(model, asu, False, y_asu[:1])
    swapped = dict(asu, edge_indices=np.ascontiguousarray(asu["edge_indices"][:, ::-1]))
    y_swapped = predict(model, swapped, COGN_INPUTS)
    unit_model = build(reduced(crystal_unit_graphs))
    # Same variables in the same order; only the output block's layer name differs
    # (`graph_network_multiplicity_readout/...` in the ASU model, `graph_network_5/...` here).
    def plain(name):
        return name.replace("graph_network_multiplicity_readout/", "graph_network_5/")
    assert [plain(w.name) for w in unit_model.weights] == [plain(w.name) for w in model.weights], "variable lists differ"
    assert [w.shape for w in unit_model.weights] == [w.shape for w in model.weights]
    unit_model.set_weights([w.numpy() for w in model.weights])
    y_cell = predict(unit_model, cell, UNIT_CELL_INPUTS)
    save_file({"asu": y_asu, "unit_cell": y_cell}, OUT / "cogn_predictions.safetensors")
    save_file(cogn_intermediates, OUT / "cogn_intermediates.safetensors")
    scale = float(np.abs(y_cell).max())
    report["cogn ASU vs unit cell: max |diff| / max |y|"] = float(np.abs(y_asu - y_cell).max()) / scale
    assert report["cogn ASU vs unit cell: max |diff| / max |y|"] < 1e-5, "ASU and unit-cell predictions differ"
    report["cogn ASU with edge_indices columns swapped: max |diff| / max |y|"] = float(np.abs(y_asu - y_swapped).max()) / scale

    # coNGN on Voronoi ASU graphs with the line graph.
    congn_args = reduced(model_default_nested)
    json.dump(json_safe(congn_args), open(OUT / "congn_args.json", "w"), indent=1)
    nested_model = build(congn_args)
    add_noise(nested_model, 2, bias_scale=0.1)
    nested_weights = {w.name: w.numpy() for w in nested_model.weights}
    assert len(nested_weights) == len(nested_model.weights)
    save_file(nested_weights, OUT / "congn_weights.safetensors")
    y_congn = predict(nested_model, vor, CONGN_INPUTS)
    save_file({"asu": y_congn}, OUT / "congn_predictions.safetensors")
    save_file(intermediates(nested_model, vor, True, y_congn[:1]), OUT / "congn_intermediates.safetensors")

    rows = []
    for i, ((name, source, s), g) in enumerate(zip(named, asu_graphs)):
        rows.append({
            "index": i, "name": name, "source": source, "formula": s.composition.reduced_formula, "atoms": len(s),
            "spacegroup": int(g["spacegroup"]), "p1_fallback": kgcnn_falls_back_to_p1(s),
            "asu_nodes": len(g["atomic_number"]), "multiplicity": g["multiplicity"].tolist(),
            "knn_asu_edges": int(asu["edge_indices.row_lengths"][i]),
            "knn_cell_edges": int(cell["edge_indices.row_lengths"][i]),
            "voronoi_asu_edges": int(vor["edge_indices.row_lengths"][i]),
            "line_graph_edges": int(vor["line_graph_edge_indices.row_lengths"][i]),
            "cogn_asu": float(y_asu[i, 0]), "cogn_unit_cell": float(y_cell[i, 0]), "congn_asu": float(y_congn[i, 0]),
        })
    report["crystals"] = rows
    report["variables"] = {"cogn": len(weights), "congn": len(nested_weights)}
    print(json.dumps(report, indent=1))
    write_readme(rows, report, weights, nested_weights)


def write_readme(rows, report, weights, nested_weights):
    table = ["| # | name | source | formula | atoms | kgcnn spacegroup | P1 fallback | ASU nodes (multiplicities) "
             "| kNN ASU / cell edges | Voronoi ASU edges | line-graph edges |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['index']} | `{r['name']}` | {r['source']} | {r['formula']} | {r['atoms']} | {r['spacegroup']} "
                     f"| {'yes' if r['p1_fallback'] else 'no'} | {r['asu_nodes']} ({', '.join(map(str, r['multiplicity']))}) "
                     f"| {r['knn_asu_edges']} / {r['knn_cell_edges']} | {r['voronoi_asu_edges']} | {r['line_graph_edges']} |")
    g = len(rows)
    agreement = report["cogn ASU vs unit cell: max |diff| / max |y|"]
    swapped = report["cogn ASU with edge_indices columns swapped: max |diff| / max |y|"]
    text = README.format(
        table="\n".join(table), G=g, agreement=f"{agreement:.1e}", swapped=f"{swapped:.2f}",
        n_cogn=len(weights), n_congn=len(nested_weights),
        first=rows[0]["name"], n0=rows[0]["asu_nodes"], e0=rows[0]["knn_asu_edges"],
        ve0=rows[0]["voronoi_asu_edges"], l0=rows[0]["line_graph_edges"],
    )
    (OUT / "README.md").write_text(text)


README = """\
# kgcnn 3.1.0 parity fixtures (coGN, coNGN)

Written by `tests/reference/kgcnn_cogn.py` (this README included) with the environment of
`bash ../shared/reference/setup-kgcnn.sh` (TensorFlow 2.15 CPU / Keras 2, kgcnn 3.1.0, numpy 1.26,
pandas < 3, pymatgen, pyxtal 1.1.5, spglib, safetensors):

    ~/.cache/chemgnn-kgcnn/bin/python tests/reference/kgcnn_cogn.py

The element table the models use (`crates/gnn-models/src/element_features.rs`) is written by
`tests/reference/kgcnn_element_features.py`. Read by `crates/gnn-models/tests/kgcnn.rs` (no Python in CI).
The `hexagonal.*` files (hexagonal crystals read from their CIF files) are written by
`tests/reference/kgcnn_hexagonal.py` and described in `README_hexagonal.md`.

## Crystals (`crystals.json`)

A JSON list of {G} pymatgen `Structure.as_dict()`, in this order (index = row in every tensor file).
"kgcnn spacegroup" is the `spacegroup` key of kgcnn's ASU graph (pyxtal → spglib, tolerance 1e-3);
"P1 fallback" says whether `pyxtal().from_seed` raised, in which case kgcnn silently uses P1
(identity symmops, multiplicity 1). Multiplicities are Wyckoff multiplicities in the conventional
cell pyxtal re-standardises to, so ASU graphs of primitive inputs (e.g. `fe_bcc`, 1 atom) describe
the conventional cell; the multiplicity-weighted mean readout makes that irrelevant.

{table}

## Files

| file | contents |
|---|---|
| `crystals.json` | the crystals above |
| `model_default.json`, `crystal_unit_graphs.json`, `model_default_nested.json` | kgcnn's unmodified configurations as JSON (tuples → lists, `None` → `null`): what a user passes at full size (128 / 160 units) |
| `cogn_args.json` | the exact `make_model` keyword dictionary of the fixture coGN: `model_default` with every `units`/`node_size`/`edge_size` of 128 set to 32 (input block 32/32; 5 blocks of edge MLP 5 × Dense(32, swish) on [e0, h_recv, h_send], sum at the receiver, node MLP 1 × Dense(32, swish), residual; multiplicity-weighted mean; Dense(1)) |
| `congn_args.json` | the same for the coNGN: `model_default_nested` with 160 → 32 (5 nested blocks: edge MLP 4 layers, nested GN edge MLP 2 layers, nested node MLP 2 layers + GRU(32), node MLP 4 layers; output [32 swish, 1 linear]; distance 32 Gaussians up to 8 Å, Voronoi area 32 up to 30 Å², angle 16 up to 3.2 rad) |
| `cogn_weights.safetensors` | {n_cogn} float32 variables `{{w.name: w.numpy()}}`, Keras names as built in a fresh session (`clear_session(); set_random_seed(0)`), initialisation + Gaussian noise on every variable (biases N(0, 0.01); kernels and embedding N(0, 0.2/√fan_in); larger bias noise makes the coGN's outputs grow to ~500 through 5 residual sum-over-26-edges blocks) |
| `congn_weights.safetensors` | the same for the coNGN: {n_congn} variables (GRU kernels, recurrent kernels and `[2, 96]` biases included), bias noise N(0, 0.1) |
| `cogn_asu_graphs.safetensors` | graph file of `KNNAsymmetricUnitCell(k=24)`: `offset`, `atomic_number`, `multiplicity`, `edge_indices`, `spacegroup` |
| `cogn_unit_cell_graphs.safetensors` | graph file of `KNNUnitCell(k=24)`: `offset`, `atomic_number`, `edge_indices`, `spacegroup` (no `multiplicity`) |
| `congn_asu_graphs.safetensors` | graph file of `VoronoiAsymmetricUnitCell(min_ridge_area=1e-6)`: `offset`, `voronoi_ridge_area`, `atomic_number`, `multiplicity`, `line_graph_edge_indices`, `edge_indices`, `spacegroup` |
| `cogn_predictions.safetensors` | `asu` float32 `[{G}, 1]`: the coGN (`cogn_args`) on `cogn_asu_graphs`; `unit_cell` float32 `[{G}, 1]`: the same weights in the `crystal_unit_graphs` model (same variable names and shapes; multiplicity-free readout) on `cogn_unit_cell_graphs`. They agree to {agreement} of the largest prediction |
| `congn_predictions.safetensors` | `asu` float32 `[{G}, 1]`: the coNGN on `congn_asu_graphs` |
| `cogn_intermediates.safetensors` | crystal 0 (`{first}`, ASU kNN graph: {n0} nodes, {e0} edges), float32: `input_block.nodes` `[{n0}, 32]` (after the atom `Dense(32)`), `input_block.edges` `[{e0}, 32]` (after the edge `Dense(32)`), `block_1.nodes` `[{n0}, 32]` (node features after the first processing block, residual included) |
| `congn_intermediates.safetensors` | crystal 0 (`{first}`, Voronoi ASU graph: {n0} nodes, {ve0} edges, {l0} line-graph edges), float32: `input_block.nodes` `[{n0}, 32]`, `input_block.edges` `[{ve0}, 32]`, `angles` `[{l0}]` (rad), `angle_embeddings` `[{l0}, 16]`, `block_1.nodes` `[{n0}, 32]` |

The intermediates come from the model's own layers called eagerly on crystal 0 as `make_model` wires
them; the script checks that continuing through all blocks and the output block reproduces the
model's prediction.

## Graph files

Each model input is a ragged tensor (one row per crystal) stored flat plus its row lengths
(`tf.RaggedTensor.from_row_lengths(values, row_lengths)`); node and edge indices are **local to
each crystal**:

| tensor | dtype | shape | meaning |
|---|---|---|---|
| `offset` | float32 | `[ΣE, 3]` | Å, from the sender's periodic image to the receiver: `(frac[recv] − frac[send] − T) · L` (ASU: the real sender atom, i.e. its representative moved by the edge's symmop) |
| `atomic_number` | int64 | `[ΣN]` | Z (the model feeds it as int32) |
| `multiplicity` | int64 | `[ΣN]` | Wyckoff multiplicity in the conventional cell (ASU files only; kgcnn's dict holds int64, the model input is int32 and is cast to float32) |
| `edge_indices` | int64 | `[ΣE, 2]` | **[receiver, sender]** local node indices; messages are summed at column 0 |
| `voronoi_ridge_area` | float32 | `[ΣE]` | Å² (coNGN file) |
| `line_graph_edge_indices` | int64 | `[ΣL, 2]` | [a, b], local edge indices: all ordered pairs a ≠ b of edges with the same receiver; the nested GN sums at column 0 (a). Ordered by receiver node, then a, then b |
| `<name>.row_lengths` | int64 | `[G]` | rows per crystal of each tensor above |
| `spacegroup` | int64 | `[G]` | the `spacegroup` key of kgcnn's ASU graphs, also in the unit-cell file (whose graphs have none); not a model input |

Model input order (`make_model`: edge inputs, node inputs, global inputs, `edge_indices`):
coGN `[offset, atomic_number, multiplicity, edge_indices]`; unit-cell coGN
`[offset, atomic_number, edge_indices]`; coNGN
`[offset, voronoi_ridge_area, atomic_number, multiplicity, line_graph_edge_indices, edge_indices]`.

## Keras variable names

`{{w.name}}` of a fresh session (the safetensors files list them alphabetically, not in Keras order).
The numeric suffixes are Keras' global layer counters, deterministic only in a fresh session: map by
structure (block, position of the MLP in the block, layer in the MLP), not by number. Kernels are
`[in, out]`. Gaps in the `mlp_<k>` counters are the attention MLPs, created but never built (no
variables). coGN ({n_cogn} variables), `<b>` = block 0…4 (`graph_network`, `graph_network_1`, …):

    crystal_input_block/atom_embedding/embedding/embeddings:0                [119, 32]  row Z − 1
    crystal_input_block/mlp/mlp_dense_0/dense/{{kernel,bias}}:0                [50, 32]   atoms: 32 + 4 + 14
    crystal_input_block/mlp_1/mlp_1_dense_0/dense_1/{{kernel,bias}}:0          [32, 32]   edges: 32 Gaussians
    sequential_graph_network/<b>/mlp_<5b+2>/mlp_<5b+2>_dense_<j>/dense_<m>/…  edge MLP j = 0…4: [96, 32], then [32, 32]
    sequential_graph_network/<b>/mlp_<5b+3>/mlp_<5b+3>_dense_0/dense_<m>/…    node MLP [32, 32]
    graph_network_multiplicity_readout/mlp_27/mlp_27_dense_0/dense_62/…       [32, 1]

(the `crystal_unit_graphs` model has the same list, with `graph_network_5/` for the output block.)
coNGN ({n_congn} variables), `<b>` = `nested_graph_network[_b]`, `<n>` =
`sequential_graph_network[_b]/graph_network[_b]` (the nested GN of block b):

    crystal_input_block/…  as above, but mlp_1 (edges) is [64, 32]: 32 distance + 32 ridge-area Gaussians
    sequential_graph_network_5/<b>/mlp_<10b+2>/…_dense_<j>/…     outer edge MLP j = 0…3: [96, 32], [32, 32] × 3
    sequential_graph_network_5/<b>/<n>/mlp_<10b+7>/…_dense_<j>/… nested edge MLP j = 0, 1: [80, 32] (16 angle + 32 + 32), [32, 32]
    sequential_graph_network_5/<b>/<n>/mlp_<10b+8>/…_dense_<j>/… nested node MLP j = 0, 1: [32, 32]
    sequential_graph_network_5/<b>/<n>/gru_cell[_b]/{{kernel,recurrent_kernel}}:0  [32, 96] (gates z, r, h)
    sequential_graph_network_5/<b>/<n>/gru_cell[_b]/bias:0                       [2, 96] (reset_after: input, recurrent)
    sequential_graph_network_5/<b>/mlp_<10b+3>/…_dense_<j>/…     outer node MLP j = 0…3: [32, 32]
    graph_network_multiplicity_readout/mlp_52/mlp_52_dense_{{0,1}}/dense_{{122,123}}/…  [32, 32] swish, [32, 1]

## Quirks met

- **Edge direction**: kgcnn 3.1.0's graph dicts (`output_graph_as_dict=True`) already give
  `edge_indices` as [receiver, sender]: the networkx graph has source = neighbour, target = centre,
  and `GraphDict.from_networkx(..., reverse_edge_indices=True)` writes [target, source]. The script
  checks it (unit cells: the edges at column 0 == i are site i's 24 nearest neighbours with ties, and
  `offset = (frac[recv] − frac[send] − T)·L`; ASU: every node has ≥ 24 edges at column 0). No swap:
  matbench's coGN `run.py` swaps columns of CrystalGNNs' graph tuples, not of kgcnn's dicts. Swapping
  kgcnn's `edge_indices` reverses every edge: the ASU predictions then change by up to {swapped} times the
  largest prediction.
- `AtomEmbedding` looks up the embedding at row **Z − 1** (`idxs = atomic_numbers - 1`), for the
  `Embedding(119, units)` table and the element table alike; the last embedding row is never used.
- The line-graph angle (`LineGraphAngleDecoder` → `VectorAngle`) is `atan2(|v_a × v_b|, v_a · v_b)`
  ∈ [0, π] of the two edges' `offset` vectors; both point into the shared receiver, so it is the bond
  angle at the receiver (symmetric in a, b).
- kgcnn has no line-graph builder; the fixtures keep pairs whose two edges join the same two atoms
  (different symmetry-equivalent neighbours in an ASU graph); kgcnn's `get_angle_indices` default
  (`allow_multi_edges=False`) would drop them.
- kNN with `tolerance=1e-9` keeps ties: NaCl gets 26 edges per node at k = 24.
- pyxtal re-standardises every cell (spglib's conventional cell): ASU graphs of the same crystal given
  in another setting have the same distances but other offsets and node counts.
- `safetensors.numpy.save_file` writes an array's raw buffer: a column-swapped view (Fortran order)
  is stored transposed without an error. The script makes every array C-contiguous.
- Under pandas 2.x kgcnn's `PeriodicTable` raises a `FutureWarning` (chained in-place `fillna`); under
  pandas 3 the fill is a no-op and every element feature changes (the setup pins pandas < 3).
"""


if __name__ == "__main__":
    main()
