"""Fashion-MNIST MLP: rskeras against Keras 3 on JAX and against plain PyTorch eager.

The model is the canonical Keras Fashion-MNIST example:

    Flatten(input_shape=(28, 28)) -> Dense(128, relu) -> Dense(10, softmax)
    compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit(x, y, batch_size=32, epochs=E, validation_split=0.1, verbose=0)

Contenders, each trained in its own fresh subprocess so that imports, thread pools and memory
do not leak from one to another:

* ``rskeras``     -- the program above with ``import rskeras as keras``;
* ``keras-jax``   -- the same program with ``KERAS_BACKEND=jax`` and ``import keras``;
* ``torch-eager`` -- the same network in plain PyTorch eager mode: Linear(784, 128), ReLU,
  Linear(128, 10) with Keras's initialisers (Glorot-uniform weights, zero biases), Adam with
  lr=1e-3 and Keras's epsilon=1e-7, cross-entropy on logits (the same maths as softmax +
  sparse categorical cross-entropy), batch 32, a fresh ``torch.randperm`` shuffle of the
  training part every epoch, running accuracy like Keras's metric, and a validation pass on
  the last 10% every epoch. ``torch.set_num_threads`` is left at its default.

Each child measures, with ``time.perf_counter``:

* import s      -- the framework's ``import`` statement alone (NumPy included, as each
                   framework imports it itself);
* s/epoch       -- every epoch from ``on_epoch_begin`` to ``on_epoch_end`` (validation
                   included). The first epoch holds one-off costs (JIT compilation, buffer
                   warm-up), so it is shown apart from the median of the later epochs;
* test acc      -- ``model.evaluate`` on the 10,000 test images after training;
* peak RSS MB   -- ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end, and VmRSS from
                   ``/proc/self/status`` after every epoch, to show whether memory stays flat.

The parent also times the bare ``import`` of each framework in 5 further fresh interpreters
(median), which is steadier than the single in-child figure.

The data is loaded once, in the parent, with ``rskeras.datasets.fashion_mnist.load_data()``
(the Debian ``dataset-fashion-mnist`` folder or the Keras cache) and handed to every child as
an uncompressed ``.npz`` file, so that no child imports a framework other than its own. Each
child reads it once and scales it to ``x / 255`` in float32. Seeds are fixed (``--seed``);
thread settings (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, RAYON_NUM_THREADS, XLA_FLAGS, ...)
are left as found and reported with the results.

Run it from the repository root:

    python benchmarks/bench_mlp.py --epochs 1
    python benchmarks/bench_mlp.py --epochs 5 --only rskeras,torch-eager --json results.json
    python benchmarks/bench_mlp.py --samples 3000 --epochs 2      # quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import util

from _machine import cpu_name, package_versions  # benchmarks/_machine.py

# Only the standard library is imported at module level: a child must start clean so that the
# framework's import (NumPy included) is timed in full.

CONTENDERS = ("rskeras", "keras-jax", "torch-eager")
REQUIRED_MODULES = {"rskeras": ("rskeras",), "keras-jax": ("keras", "jax"), "torch-eager": ("torch",)}
IMPORT_STATEMENTS = {
    "rskeras": "import rskeras",
    "keras-jax": "import keras (jax backend)",
    "torch-eager": "import torch",
}
VERSIONED_PACKAGES = ("numpy", "rskeras", "keras", "jax", "jaxlib", "torch")
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "XLA_FLAGS",
)

BATCH_SIZE = 32
VALIDATION_SPLIT = 0.1
IMPORT_RUNS = 5
RESULT_MARKER = "BENCH_MLP_RESULT "


# --------------------------------------------------------------------------------------------
# Inside a child process
# --------------------------------------------------------------------------------------------

def _proc_status(field: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(field)


def current_rss_mb() -> float:
    """Resident set size now (VmRSS), in MB."""
    return int(_proc_status("VmRSS").split()[0]) / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def os_thread_count() -> int:
    return int(_proc_status("Threads"))


def import_framework(name: str):
    """Import the contender's framework; return `(module, seconds spent in the import)`."""
    if name == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
    start = time.perf_counter()
    if name == "rskeras":
        import rskeras as framework
    elif name == "keras-jax":
        import keras as framework
    elif name == "torch-eager":
        import torch as framework
    else:
        raise ValueError(f"unknown contender {name!r}")
    return framework, time.perf_counter() - start


def load_arrays(path: str):
    """Read the parent's `.npz` once; return `(x_train, y_train), (x_test, y_test)`, with
    x as float32 in [0, 1] (scaled in place so that no float64 copy inflates the peak RSS)."""
    import numpy as np

    with np.load(path) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    x_train = x_train.astype(np.float32)
    x_train /= 255
    x_test = x_test.astype(np.float32)
    x_test /= 255
    return (x_train, y_train), (x_test, y_test)


def train_keras(keras, data, epochs: int, seed: int) -> dict:
    """The canonical Keras program; works unchanged for rskeras and Keras 3."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.rss_mb = [], []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            self.rss_mb.append(current_rss_mb())

    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = EpochRecorder()
    history = model.fit(
        x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs,
        validation_split=VALIDATION_SPLIT, verbose=0, callbacks=[recorder],
    )
    threads = os_thread_count()
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    return {
        "epoch_s": recorder.seconds,
        "rss_mb_per_epoch": recorder.rss_mb,
        "train_acc": float(history.history["accuracy"][-1]),
        "val_acc": float(history.history["val_accuracy"][-1]),
        "test_loss": float(test_loss),
        "test_acc": float(test_acc),
        "os_threads": threads,
    }


def train_torch(torch, data, epochs: int, seed: int) -> dict:
    """The same network, optimiser and loop in plain PyTorch eager mode, on the CPU."""
    from torch import nn

    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(seed)
    x_all, y_all = torch.from_numpy(x_train), torch.from_numpy(y_train).long()
    x_test, y_test = torch.from_numpy(x_test), torch.from_numpy(y_test).long()
    split_at = int(len(x_all) * (1.0 - VALIDATION_SPLIT))  # floor, as Keras splits
    x_fit, y_fit = x_all[:split_at], y_all[:split_at]
    x_val, y_val = x_all[split_at:], y_all[split_at:]

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):  # Keras's Dense defaults
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate(x, y):
        """Mean loss and accuracy over `x` in batches of 32, as `model.evaluate` does."""
        model.eval()
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(x), BATCH_SIZE):
                xb, yb = x[start:start + BATCH_SIZE], y[start:start + BATCH_SIZE]
                logits = model(xb)
                loss_sum += loss_fn(logits, yb) * len(yb)
                correct += (logits.argmax(dim=1) == yb).sum()
        return loss_sum.item() / len(x), correct.item() / len(x)

    epoch_s, rss_mb, train_acc, val_acc = [], [], 0.0, 0.0
    for _ in range(epochs):
        start_time = time.perf_counter()
        model.train()
        order = torch.randperm(split_at)
        correct = torch.zeros((), dtype=torch.long)
        for start in range(0, split_at, BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            xb, yb = x_fit[idx], y_fit[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                correct += (logits.argmax(dim=1) == yb).sum()
        train_acc = correct.item() / split_at
        _, val_acc = evaluate(x_val, y_val)
        epoch_s.append(time.perf_counter() - start_time)
        rss_mb.append(current_rss_mb())

    threads = os_thread_count()
    test_loss, test_acc = evaluate(x_test, y_test)
    return {
        "epoch_s": epoch_s,
        "rss_mb_per_epoch": rss_mb,
        "train_acc": train_acc,
        "val_acc": val_acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "os_threads": threads,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
    }


def child_main(name: str, data_path: str | None, epochs: int, seed: int) -> None:
    """Entry point of a child: import, (optionally) train, print one JSON result line."""
    framework, import_s = import_framework(name)
    result = {"contender": name, "import_s": import_s}
    if data_path is not None:
        data = load_arrays(data_path)
        result["rss_mb_before_fit"] = current_rss_mb()
        if name == "torch-eager":
            result.update(train_torch(framework, data, epochs, seed))
            result["device"] = "cpu"
        else:
            result.update(train_keras(framework, data, epochs, seed))
            result["device"] = "cpu"
            if name == "keras-jax":
                import jax

                result["device"] = jax.default_backend()
        result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_MARKER + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------------
# In the parent process
# --------------------------------------------------------------------------------------------

class ChildFailed(RuntimeError):
    pass


def run_child(name: str, *extra: str) -> dict:
    """Run this script as `--child name ...` in a fresh interpreter and return its JSON."""
    command = [sys.executable, os.path.abspath(__file__), "--child", name, *extra]
    proc = subprocess.run(command, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    raise ChildFailed(f"exit code {proc.returncode}: {tail[0]}")


def save_dataset(samples: int | None, directory: str) -> tuple[str, int]:
    """Load Fashion-MNIST with rskeras's loader and store it (uint8) for the children."""
    import numpy as np
    from rskeras.datasets import fashion_mnist

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if samples is not None:
        x_train, y_train = x_train[:samples], y_train[:samples]
    path = os.path.join(directory, "fashion_mnist.npz")
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path, len(x_train)


def missing_modules(name: str) -> list[str]:
    return [m for m in REQUIRED_MODULES[name] if util.find_spec(m) is None]


def machine_info() -> dict:
    cpu = cpu_name()
    versions = package_versions(VERSIONED_PACKAGES)
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "thread_env": {var: os.environ.get(var) for var in THREAD_ENV_VARS},
    }


def epoch_summary(result: dict) -> tuple[float | None, float]:
    """`(median of the epochs after the first or None, first epoch)` in seconds."""
    seconds = result["epoch_s"]
    return (statistics.median(seconds[1:]) if len(seconds) > 1 else None), seconds[0]


def steady_epoch_s(result: dict) -> float:
    """The per-epoch figure used for ratios: the later-epoch median, else the first epoch."""
    later, first = epoch_summary(result)
    return later if later is not None else first


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _fmt_rss_series(values: list[float]) -> str:
    shown = [f"{v:.0f}" for v in values]
    if len(shown) > 6:
        shown = shown[:2] + ["…"] + shown[-3:]
    return ", ".join(shown)


def results_table(results: dict) -> str:
    rows = [
        "| contender | import s | s/epoch (median, epochs 2+) | 1st epoch s | test acc "
        "| peak RSS MB | RSS per epoch MB |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, result in results.items():
        later, first = epoch_summary(result)
        rows.append(
            f"| {name} | {_fmt(result['import_s'])} | {_fmt(later)} | {_fmt(first)} "
            f"| {result['test_acc']:.4f} | {result['peak_rss_mb']:.0f} "
            f"| {_fmt_rss_series(result['rss_mb_per_epoch'])} |"
        )
    return "\n".join(rows)


def ratios(results: dict, import_medians: dict) -> dict:
    """rskeras / other for s/epoch, import time (median of fresh imports when measured, else
    the in-child figure) and peak RSS. Below 1 means rskeras is faster or smaller."""
    if "rskeras" not in results:
        return {}
    ours = results["rskeras"]

    def import_s(name):
        return import_medians.get(name, results[name]["import_s"])

    out = {}
    for other in ("keras-jax", "torch-eager"):
        if other in results:
            theirs = results[other]
            out[other] = {
                "s_per_epoch": steady_epoch_s(ours) / steady_epoch_s(theirs),
                "import_s": import_s("rskeras") / import_s(other),
                "peak_rss_mb": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
            }
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fashion-MNIST MLP: rskeras vs Keras 3 (JAX) vs PyTorch eager.",
    )
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    parser.add_argument("--samples", type=int, default=None,
                        help="use only the first N training images (default: all 60000)")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"comma-separated contenders (default: {','.join(CONTENDERS)})")
    parser.add_argument("--json", metavar="PATH", help="also write all results to PATH as JSON")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--import-runs", type=int, default=IMPORT_RUNS,
                        help=f"fresh interpreters per bare-import timing (default {IMPORT_RUNS})")
    # Internal: what the parent passes to its children.
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contender(s) {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.samples is not None and args.samples < 10:
        parser.error("--samples must be at least 10")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args.child, args.data, args.epochs, args.seed)
        return

    machine = machine_info()
    notes, runnable = [], []
    for name in args.only:
        missing = missing_modules(name)
        if missing:
            notes.append(f"{name} skipped: cannot import {', '.join(missing)}")
        else:
            runnable.append(name)

    results, import_times = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_mlp_") as tmp:
        progress("loading Fashion-MNIST with rskeras.datasets.fashion_mnist.load_data() ...")
        data_path, n_train = save_dataset(args.samples, tmp)
        for name in runnable:
            progress(f"training {name}: {n_train} samples, {args.epochs} epoch(s) ...")
            try:
                results[name] = run_child(
                    name, "--data", data_path, "--epochs", str(args.epochs), "--seed", str(args.seed),
                )
            except ChildFailed as err:
                notes.append(f"{name} failed: {err}")

    for name in runnable:
        progress(f"timing `{IMPORT_STATEMENTS[name]}` in {args.import_runs} fresh interpreters ...")
        try:
            runs = [run_child(name)["import_s"] for _ in range(args.import_runs)]
        except ChildFailed as err:
            notes.append(f"bare import of {name} failed: {err}")
            continue
        import_times[name] = {"median_s": statistics.median(runs), "runs_s": runs}
    import_medians = {name: t["median_s"] for name, t in import_times.items()}
    rskeras_ratios = ratios(results, import_medians)

    # ---- report ----
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    thread_env = ", ".join(f"{k}={v if v is not None else 'unset'}" for k, v in machine["thread_env"].items())
    print("# Fashion-MNIST MLP benchmark\n")
    print(f"- machine: {machine['cpu']}, {machine['logical_cores']} logical cores "
          f"({machine['usable_cores']} usable), Python {machine['python']}, {machine['platform']}")
    print(f"- versions: {versions}")
    print(f"- threads: {thread_env}")
    print(f"- workload: {n_train} training images ({VALIDATION_SPLIT:.0%} held out for validation), "
          f"10000 test images, batch {BATCH_SIZE}, {args.epochs} epoch(s), seed {args.seed}\n")

    if results:
        print(results_table(results))
        print()
        print("After training:\n")
        for name, result in results.items():
            detail = f"- {name}: {result['os_threads']} OS threads, device {result['device']}"
            if "torch_num_threads" in result:
                detail += (f", torch.get_num_threads()={result['torch_num_threads']}"
                           f" (interop {result['torch_num_interop_threads']})")
            detail += f"; last epoch train acc {result['train_acc']:.4f}, val acc {result['val_acc']:.4f}"
            print(detail)
        print()

    if rskeras_ratios:
        print("Ratios rskeras / other (below 1: rskeras is faster or smaller; s/epoch uses the "
              "median of epochs 2+ when there are any, import the median of fresh imports):\n")
        print("| rskeras / | s/epoch | import s | peak RSS |")
        print("|---|---:|---:|---:|")
        for other, r in rskeras_ratios.items():
            print(f"| {other} | {r['s_per_epoch']:.2f}x | {r['import_s']:.2f}x | {r['peak_rss_mb']:.2f}x |")
        print()

    if import_times:
        print(f"Bare import, median of {args.import_runs} fresh interpreters:\n")
        print("| statement | median s | min s | max s |")
        print("|---|---:|---:|---:|")
        for name, t in import_times.items():
            print(f"| `{IMPORT_STATEMENTS[name]}` | {t['median_s']:.3f} "
                  f"| {min(t['runs_s']):.3f} | {max(t['runs_s']):.3f} |")
        print()

    for note in notes:
        print(f"Note: {note}")

    if args.json:
        report = {
            "machine": machine,
            "settings": {"epochs": args.epochs, "train_samples": n_train, "batch_size": BATCH_SIZE,
                         "validation_split": VALIDATION_SPLIT, "seed": args.seed,
                         "contenders": args.only},
            "results": results,
            "import_times": import_times,
            "ratios_rskeras_over": rskeras_ratios,
            "notes": notes,
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        progress(f"wrote {args.json}")


if __name__ == "__main__":
    main()
