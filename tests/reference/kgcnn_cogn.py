"""Fixtures for coGN/coNGN import parity against kgcnn 3.1.0: tests/fixtures/kgcnn/.

Crystals (`crystals.json`, a list of pymatgen dicts): real ones from tests/fixtures/crystals/ and two
random P1 cells. Models: kgcnn's `model_default` (coGN) and `model_default_nested` (coNGN) with every
width reduced to 32 (structure unchanged: 5 blocks, the same MLP depths, GRU, readouts), random
initialisation plus noise on every variable. Graphs: kgcnn's own preprocessors —
`KNNAsymmetricUnitCell(24)` and `KNNUnitCell(24)` for coGN, `VoronoiAsymmetricUnitCell(1e-6)` for coNGN
with the line graph of all ordered pairs of edges sharing their receiver (pairs with equal
(sender, receiver) kept; kgcnn has no line-graph builder) — as kgcnn graph files (see
tests/fixtures/kgcnn/README.md). Predictions: the Keras models on those inputs.

Run with the kgcnn environment (bash ../shared/reference/setup-kgcnn.sh):
    ~/.cache/chemgnn-kgcnn/bin/python tests/reference/kgcnn_cogn.py
"""
import contextlib
import copy
import io
import json
import logging
import pathlib
import warnings

import numpy as np
import tensorflow as tf
from pymatgen.core import Lattice, Structure
from safetensors.numpy import save_file

warnings.filterwarnings("ignore")
logging.getLogger("kgcnn").setLevel(logging.ERROR)
from kgcnn.crystal.preprocessor import KNNAsymmetricUnitCell, KNNUnitCell, VoronoiAsymmetricUnitCell  # noqa: E402
from kgcnn.literature.coGN import crystal_unit_graphs, make_model, model_default, model_default_nested  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "kgcnn"
CIFS = ["nacl", "cscl", "rutile_tio2", "diamond_si", "wurtzite_zno", "fe_bcc", "hcp_mg", "fluorite_caf2",
        "srtio3_perovskite", "corundum_al2o3", "alpha_quartz_sio2", "spinel_mgal2o4"]
UNITS = 32


def crystals():
    out = [(name, Structure.from_file(ROOT / "tests" / "fixtures" / "crystals" / f"{name}.cif")) for name in CIFS]
    rng = np.random.default_rng(7)
    for k in range(2):
        while True:
            lattice = Lattice.from_parameters(*rng.uniform(3.5, 6.0, 3), *rng.uniform(70, 110, 3))
            n = int(rng.integers(3, 6))
            s = Structure(lattice, rng.integers(1, 84, n).tolist(), rng.uniform(0, 1, (n, 3)))
            if n == 1 or s.distance_matrix[np.triu_indices(n, 1)].min() >= 1.5:
                break
        out.append((f"random_p1_{k}", s))
    return out


def json_safe(value):
    return json.loads(json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple) else None))


def scaled(config):
    """The config with the paper's widths (128 or 160) replaced by UNITS, as plain JSON."""
    paper = config["input_block_cfg"]["node_size"]

    def walk(v, key=None):
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        if key in ("units", "node_size", "edge_size") and v == paper:
            return UNITS
        return v

    return walk(json_safe(config))


def keras_config(config):
    config = copy.deepcopy(config)
    for spec in config["inputs"].values():
        if spec is not None:
            spec["shape"] = tuple(spec["shape"])
    return config


def build(config):
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        return make_model(**keras_config(config))


def add_noise(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = w.numpy()
        scale = 0.1 if v.ndim < 2 or w.name.endswith("bias:0") else 0.2 / np.sqrt(v.shape[0])
        w.assign(v + rng.normal(0, scale, v.shape).astype(np.float32))


def line_graph(edge_indices):
    """All ordered pairs (a, b), a != b, of edges with the same receiver (column 0)."""
    pairs = []
    receivers = edge_indices[:, 0]
    for r in np.unique(receivers):
        incoming = np.flatnonzero(receivers == r)
        pairs += [(a, b) for a in incoming for b in incoming if a != b]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def graph_tensors(graphs, keys):
    """Flat values and row lengths of the model inputs `keys` of every graph dict."""
    out = {}
    for key in keys:
        values = [g[key] for g in graphs]
        # Contiguous in C order: safetensors.numpy writes the raw buffer (a column-swapped view is Fortran-ordered).
        out[key] = np.ascontiguousarray(np.concatenate(values).astype(np.float32 if key in ("offset", "voronoi_ridge_area") else np.int64))
        out[key + ".row_lengths"] = np.asarray([len(v) for v in values], dtype=np.int64)
    out["spacegroup"] = np.asarray([int(g.get("spacegroup", 1)) for g in graphs], dtype=np.int64)
    return out


def preprocess(preprocessor, structures, nested):
    graphs = []
    for s in structures:
        g = preprocessor(s)
        g = {k: np.asarray(v) for k, v in g.items()}
        # kgcnn 3.1.0's graph dicts give `edge_indices` as [receiver, sender] already (column 0 is the atom
        # whose neighbourhood the edge belongs to: checked on asymmetric units, where only
        # representatives receive); no swap.
        g["edge_indices"] = np.ascontiguousarray(g["edge_indices"])
        if nested:
            g["line_graph_edge_indices"] = line_graph(g["edge_indices"])
        graphs.append(g)
    return graphs


def ragged(tensors, key, dtype):
    return tf.RaggedTensor.from_row_lengths(tf.constant(tensors[key], dtype=dtype), tensors[key + ".row_lengths"])


def predict(model, tensors, names):
    dtypes = {"offset": tf.float32, "voronoi_ridge_area": tf.float32}
    x = [ragged(tensors, n, dtypes.get(n, tf.int32)) for n in names]
    return model(x, training=False).numpy().astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    named = crystals()
    structures = [s for _, s in named]
    json.dump([s.as_dict() for s in structures], open(OUT / "crystals.json", "w"))
    for name, config in [("model_default", model_default), ("crystal_unit_graphs", crystal_unit_graphs),
                         ("model_default_nested", model_default_nested)]:
        json.dump(json_safe(config), open(OUT / f"{name}.json", "w"), indent=1)
    report = {}

    # coGN: one set of weights, ASU and unit-cell graphs.
    cogn_args = scaled(model_default)
    json.dump(cogn_args, open(OUT / "cogn_args.json", "w"), indent=1)
    model = build(cogn_args)
    add_noise(model, 1)
    weights = {w.name: w.numpy() for w in model.weights}
    save_file(weights, OUT / "cogn_weights.safetensors")
    unit_model = build(scaled(crystal_unit_graphs))
    assert [w.shape for w in unit_model.weights] == [w.shape for w in model.weights]
    unit_model.set_weights([w.numpy() for w in model.weights])
    asu = graph_tensors(preprocess(KNNAsymmetricUnitCell(k=24, output_graph_as_dict=True), structures, False),
                        ["offset", "atomic_number", "multiplicity", "edge_indices"])
    cell = graph_tensors(preprocess(KNNUnitCell(k=24, output_graph_as_dict=True), structures, False),
                         ["offset", "atomic_number", "edge_indices"])
    save_file(asu, OUT / "cogn_asu_graphs.safetensors")
    save_file(cell, OUT / "cogn_unit_cell_graphs.safetensors")
    y_asu = predict(model, asu, ["offset", "atomic_number", "multiplicity", "edge_indices"])
    y_cell = predict(unit_model, cell, ["offset", "atomic_number", "edge_indices"])
    save_file({"asu": y_asu, "unit_cell": y_cell}, OUT / "cogn_predictions.safetensors")
    report["cogn ASU vs unit cell (max |diff| / max |y|)"] = float(np.abs(y_asu - y_cell).max() / np.abs(y_cell).max())

    # coNGN on Voronoi ASU graphs with the line graph.
    congn_args = scaled(model_default_nested)
    json.dump(congn_args, open(OUT / "congn_args.json", "w"), indent=1)
    model = build(congn_args)
    add_noise(model, 2)
    save_file({w.name: w.numpy() for w in model.weights}, OUT / "congn_weights.safetensors")
    keys = ["offset", "voronoi_ridge_area", "atomic_number", "multiplicity", "line_graph_edge_indices", "edge_indices"]
    graphs = graph_tensors(preprocess(VoronoiAsymmetricUnitCell(1e-6, output_graph_as_dict=True), structures, True), keys)
    save_file(graphs, OUT / "congn_asu_graphs.safetensors")
    save_file({"asu": predict(model, graphs, keys)}, OUT / "congn_predictions.safetensors")

    report["crystals"] = [
        {"name": n, "atoms": len(s), "kgcnn spacegroup (ASU kNN)": int(g)}
        for (n, s), g in zip(named, asu["spacegroup"])
    ]
    report["cogn predictions"] = y_asu.ravel().tolist()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
