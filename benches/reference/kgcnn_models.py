"""kgcnn 3.1.0 side of `cargo xtask bench --suites crystal-models`: coGN and coNGN (kgcnn's
`model_default` / `model_default_nested`, widths from the manifest) on the graphs chemgnn wrote as
kgcnn graph files — inference (`model(x, training=False)` in a `tf.function`) and one training step
(forward, MAE, backward, Adam in a `tf.function`), with TensorFlow limited to 1 and to 2 threads
(each in a fresh process, as TensorFlow fixes its thread pools at start-up).

Run by xtask with the environment of `../shared/reference/setup-kgcnn.sh`."""

import contextlib
import copy
import io
import json
import logging
import os
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.dirname(__file__))
from harness import parse_args, time_median, version  # noqa: E402


def ragged(tf, tensors, name, dtype):
    values = tensors[name]
    return tf.RaggedTensor.from_row_lengths(tf.constant(values, dtype=dtype), tensors[name + ".row_lengths"])


def scaled(config, units):
    """`config` with every width of the paper's model replaced by `units`."""
    text = json.dumps(config, default=lambda o: list(o) if isinstance(o, tuple) else None)
    paper = config["input_block_cfg"]["node_size"]
    text = text.replace(f"[{paper}", f"[{units}").replace(f" {paper},", f" {units},").replace(f" {paper}]", f" {units}]")
    text = text.replace(f'"node_size": {paper}', f'"node_size": {units}').replace(f'"edge_size": {paper}', f'"edge_size": {units}')
    return json.loads(text)


def cases(entry, tf):
    from safetensors.numpy import load_file
    from kgcnn.literature.coGN import make_model, model_default, model_default_nested

    tensors = load_file(entry["file"])
    nested = entry["model"] == "coNGN"
    config = scaled(copy.deepcopy(model_default_nested if nested else model_default), entry["units"])
    for key in ("inputs",):
        for name, spec in config[key].items():
            if spec is not None and "shape" in spec:
                spec["shape"] = tuple(spec["shape"])
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # make_model prints its inputs
        model = make_model(**config)
    offset = ragged(tf, tensors, "offset", tf.float32)
    z = ragged(tf, tensors, "atomic_number", tf.int32)
    edges = ragged(tf, tensors, "edge_indices", tf.int32)
    if "multiplicity" in tensors:
        mult = ragged(tf, tensors, "multiplicity", tf.int32)
    else:  # full cells: every atom counts once
        mult = tf.RaggedTensor.from_row_lengths(tf.ones(int(sum(tensors["atomic_number.row_lengths"])), tf.int32), tensors["atomic_number.row_lengths"])
    if nested:
        area = ragged(tf, tensors, "voronoi_ridge_area", tf.float32)
        lines = ragged(tf, tensors, "line_graph_edge_indices", tf.int32)
        x = [offset, area, z, mult, lines, edges]
    else:
        x = [offset, z, mult, edges]
    y = tf.random.normal((len(tensors["atomic_number.row_lengths"]), 1), seed=1)
    optimizer = tf.keras.optimizers.Adam(5e-4)

    @tf.function
    def infer():
        return model(x, training=False)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    prefix = entry["prefix"]
    return [
        (f"{prefix}, inference", lambda: infer().numpy()),
        (f"{prefix}, training step (forward, MAE, backward, Adam)", lambda: step().numpy()),
    ]


def measure(args, threads):
    warnings.filterwarnings("ignore")
    logging.getLogger("kgcnn").setLevel(logging.ERROR)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    label = f"kgcnn {version('kgcnn')} / TF {tf.__version__} ({threads} thread{'s' if threads > 1 else ''})"
    results = []
    for entry in json.load(open(args.manifest)):
        for case, run in cases(entry, tf):
            seconds = time_median(args.budget, run)
            results.append({"suite": args.suite, "case": case, "implementation": label, "seconds": seconds,
                            "work": float(entry["crystals"]), "unit": "crystals", "identical": None})
            print(f"  {case:<100} {threads} thr {seconds * 1e3:10.3f} ms", flush=True)
    return results


if __name__ == "__main__":
    if os.environ.get("KGCNN_BENCH_THREADS"):
        args = parse_args()
        json.dump(measure(args, int(os.environ["KGCNN_BENCH_THREADS"])), open(args.out, "w"), indent=1)
        sys.exit(0)
    args = parse_args()
    results = []
    for threads in (1, 2):
        part = args.out + f".{threads}"
        env = dict(os.environ, KGCNN_BENCH_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run([sys.executable, *sys.argv[:1], "--suite", args.suite, "--budget", str(args.budget), args.manifest, part], env=env, check=True)
        results += json.load(open(part))
    json.dump(results, open(args.out, "w"), indent=1)
