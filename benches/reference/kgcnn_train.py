"""kgcnn 3.1.0 coGN trained on the same split as a chemgnn run, with kgcnn's MatBench recipe: Adam with a
linear (PolynomialDecay, power 1) learning rate from 5e-4 to 1e-5 over all steps, batch 64, MAE on
targets standardised with the training split's mean and standard deviation, KNNAsymmetricUnitCell(24)
graphs, `model_default`. Prints and writes the test MAE (in the target's unit), the time per epoch and
the preprocessing time. The validation part of the chemgnn split is not used (kgcnn's recipe has none).

    ~/.cache/chemgnn-kgcnn/bin/python benches/reference/kgcnn_train.py \
        --dataset data/cache/matminer/elastic_tensor.json.gz --log10 \
        --split runs/<run>/split.json --epochs 30 --seed 0 --out kgcnn-run.json

(`--log10` trains on log10 of the table's target, as MatBench's `log10(K_VRH)`.)"""

import argparse
import contextlib
import gzip
import io
import json
import logging
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.getLogger("kgcnn").setLevel(logging.ERROR)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log10", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from pymatgen.core import Structure
    from kgcnn.crystal.preprocessor import KNNAsymmetricUnitCell
    from kgcnn.literature.coGN import make_model, model_default

    table = json.load(gzip.open(args.dataset) if args.dataset.endswith(".gz") else open(args.dataset))
    structures = [Structure.from_dict(row[0]) for row in table["data"]]
    y = np.array([row[1] for row in table["data"]], dtype=np.float64)
    if args.log10:
        y = np.log10(y)
    split = json.load(open(args.split))
    train, test = np.array(split["train"]), np.array(split["test"])

    start = time.perf_counter()
    pre = KNNAsymmetricUnitCell(k=24, output_graph_as_dict=True)
    graphs = [pre(s) for s in structures]
    preprocessing = time.perf_counter() - start

    def inputs(indices):
        def ragged(key, dtype):
            values = [np.asarray(graphs[i][key]) for i in indices]
            return tf.RaggedTensor.from_row_lengths(tf.constant(np.concatenate(values), dtype=dtype), [len(v) for v in values])
        return [ragged("offset", tf.float32), ragged("atomic_number", tf.int32), ragged("multiplicity", tf.int32),
                ragged("edge_indices", tf.int32)]

    mean, std = y[train].mean(), y[train].std()
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(args.seed)
    with contextlib.redirect_stdout(io.StringIO()):
        model = make_model(**model_default)
    steps = args.epochs * int(np.ceil(len(train) / 64))
    schedule = tf.keras.optimizers.schedules.PolynomialDecay(5e-4, steps, 1e-5, power=1.0)
    model.compile(optimizer=tf.keras.optimizers.Adam(schedule), loss="mean_absolute_error")
    x_train, y_train = inputs(train), ((y[train] - mean) / std).reshape(-1, 1)
    epoch_times = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.t)
            print(f"epoch {epoch + 1}/{args.epochs} loss {logs['loss']:.4f} {epoch_times[-1]:.1f} s", flush=True)

    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[Timer()])
    predictions = model.predict(inputs(test), batch_size=64, verbose=0).ravel() * std + mean
    mae = float(np.abs(predictions - y[test]).mean())
    result = {"dataset": args.dataset, "log10": args.log10, "epochs": args.epochs, "seed": args.seed,
              "train": len(train), "test": len(test), "test_mae": mae,
              "seconds_per_epoch": float(np.median(epoch_times)), "first_epoch_seconds": epoch_times[0],
              "preprocessing_seconds": preprocessing, "threads": args.threads}
    json.dump(result, open(args.out, "w"), indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
