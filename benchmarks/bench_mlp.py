"""Fashion-MNIST MLP: rskeras against Keras 3 on JAX and against PyTorch (eager and compiled).

The model is the canonical Keras Fashion-MNIST example:

    Flatten(input_shape=(28, 28)) -> Dense(128, relu) -> Dense(10, softmax)
    compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit(x, y, batch_size=32, epochs=E, validation_split=0.1, verbose=0)

Contenders, each trained in its own fresh subprocess so that imports, thread pools and memory
do not leak from one to another:

* ``rskeras``         -- the program above with ``import rskeras as keras``;
* ``keras-jax``       -- the same program with ``KERAS_BACKEND=jax`` and ``import keras``;
* ``keras-jax-spe32`` -- the same with ``compile(..., steps_per_execution=32)``, which a user
  chasing speed sets (32 jitted steps per call);
* ``torch-eager``     -- the same network in the plain PyTorch loop: Linear(784, 128), ReLU,
  Linear(128, 10) with Keras's initialisers (Glorot-uniform weights, zero biases), Adam with
  lr=1e-3 and Keras's epsilon=1e-7, cross-entropy on logits (the same maths as softmax +
  sparse categorical cross-entropy), batch 32, a fresh ``torch.randperm`` shuffle of the
  training part every epoch, running accuracy kept as a tensor (no ``.item()`` per step), and
  a validation pass on the last 10% every epoch; ``torch.set_num_threads`` and
  ``torch.set_flush_denormal(True)`` (XLA flushes denormals too; without it Adam's decaying
  slots cost microcode assists on some x86 CPUs: 2.4-3.1 s/epoch instead of 1.6 on one thread
  of the AVX-512 Xeon of the README);
* ``torch-compile``   -- the same loop with the network wrapped in ``torch.compile`` (default
  mode; the optimizer step stays eager).

Each child measures, with ``time.perf_counter``:

* import s      -- the framework's ``import`` statement alone (NumPy included, as each
                   framework imports it itself);
* s/epoch       -- every epoch from ``on_epoch_begin`` to ``on_epoch_end`` (validation
                   included). The first epoch holds one-off costs (JIT compilation, buffer
                   warm-up), so it is shown apart from the median of the later epochs;
* test acc      -- ``model.evaluate`` on the 10,000 test images after training;
* peak RSS MiB  -- ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` right after training (import,
                   data and training together), and VmRSS from ``/proc/self/status`` after
                   every epoch, to show whether memory stays flat;
* predict       -- images/s of ``model.predict(x_test, batch_size=256)`` (second call; PyTorch:
                   the same batches under ``torch.inference_mode``, softmax, one NumPy array);
* latency       -- median µs of one image through ``model(x)`` (a framework tensor in, blocked
                   until ready) and through ``predict_on_batch`` (NumPy in and out; PyTorch:
                   ``from_numpy``, forward, softmax, ``.numpy()``), 200 calls after 20.

The parent also times the bare ``import`` of each framework in 5 further fresh interpreters
(median), which is steadier than the single in-child figure.

The data is loaded once, in the parent, with ``rskeras.datasets.fashion_mnist.load_data()``
(the Debian ``dataset-fashion-mnist`` folder or the Keras cache) and handed to every child as
an uncompressed ``.npz`` file, so that no child imports a framework other than its own. Each
child reads it once and scales it to ``x / 255`` in float32. Seeds are fixed (``--seed``).

Each child may run from its own interpreter (``--keras-python``, ``--torch-python``,
``--rskeras-python``; default: this one) and is pinned to the same ``--threads`` CPUs with
OMP/MKL/OpenBLAS/Rayon/rskeras thread counts and ``torch.set_num_threads`` set to that number.
Contenders run ``--rounds`` times, alternating, and each figure is the best round (the machine
may be shared). A contender whose framework is not installed is reported as missing.

Run it from the repository root:

    python benchmarks/bench_mlp.py                                # 2 epochs, 2 rounds
    python benchmarks/bench_mlp.py --epochs 5 --only rskeras,torch-eager --json results.json
    python benchmarks/bench_mlp.py --samples 3000 --rounds 1      # quick smoke run
    python benchmarks/bench_mlp.py --torch-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

from _machine import (  # benchmarks/_machine.py
    add_interpreter_options,
    best_of,
    cpu_name,
    header,
    interpreter,
    median_us,
    package_versions,
    peak_rss_mib,
    pinned,
    report,
    run_contender,
)

# Only the standard library is imported at module level: a child must start clean so that the
# framework's import (NumPy included) is timed in full.

CONTENDERS = ("rskeras", "keras-jax", "keras-jax-spe32", "torch-eager", "torch-compile")
IMPORT_STATEMENTS = {  # the import is timed once per framework
    "rskeras": "import rskeras",
    "keras-jax": "import keras (jax backend)",
    "torch-eager": "import torch",
}
VERSIONED_PACKAGES = ("numpy", "rskeras", "keras", "jax", "jaxlib", "torch")

BATCH_SIZE = 32
PREDICT_BATCH = 256
VALIDATION_SPLIT = 0.1
IMPORT_RUNS = 3


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


def os_thread_count() -> int:
    return int(_proc_status("Threads"))


def import_framework(name: str):
    """Import the contender's framework; return `(module, seconds spent in the import)`."""
    if name.startswith("keras-jax"):
        os.environ["KERAS_BACKEND"] = "jax"
    start = time.perf_counter()
    if name == "rskeras":
        import rskeras as framework
    elif name.startswith("keras-jax"):
        import keras as framework
    elif name.startswith("torch"):
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


def train_keras(keras, data, epochs: int, seed: int, steps_per_execution: int = 1) -> dict:
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
    spe = {"steps_per_execution": steps_per_execution} if steps_per_execution > 1 else {}
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  **spe)
    recorder = EpochRecorder()
    history = model.fit(
        x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs,
        validation_split=VALIDATION_SPLIT, verbose=0, callbacks=[recorder],
    )
    peak = peak_rss_mib()
    threads = os_thread_count()
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    model.predict(x_test[:2 * PREDICT_BATCH], batch_size=PREDICT_BATCH, verbose=0)
    start = time.perf_counter()
    model.predict(x_test, batch_size=PREDICT_BATCH, verbose=0)
    predict_ips = len(x_test) / (time.perf_counter() - start)
    if keras.__name__.startswith("keras"):
        import jax

        ready = jax.block_until_ready  # JAX dispatches asynchronously
    else:
        def ready(value):
            return value
    one = x_test[:1]
    one_tensor = keras.ops.convert_to_tensor(one)
    return {
        "train_peak_rss_mib": peak,
        "predict_ips": predict_ips,
        "call_us": median_us(lambda: ready(model(one_tensor))),
        "predict_on_batch_us": median_us(lambda: model.predict_on_batch(one)),
        "epoch_s": recorder.seconds,
        "rss_mb_per_epoch": recorder.rss_mb,
        "train_acc": float(history.history["accuracy"][-1]),
        "val_acc": float(history.history["val_accuracy"][-1]),
        "test_loss": float(test_loss),
        "test_acc": float(test_acc),
        "os_threads": threads,
    }


def train_torch(torch, data, epochs: int, seed: int, threads: int, compiled: bool) -> dict:
    """The same network, optimiser and loop in plain PyTorch, on the CPU (eager, or the
    network under `torch.compile`)."""
    from torch import nn

    (x_train, y_train), (x_test, y_test) = data
    x_test_np = x_test
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as XLA does and rskeras's optimizer kernels do (see README)
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
    if compiled:
        model = torch.compile(model)
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

    peak = peak_rss_mib()
    threads = os_thread_count()
    test_loss, test_acc = evaluate(x_test, y_test)
    model.eval()
    with torch.inference_mode():
        def predict(images):
            outs = [model(images[i:i + PREDICT_BATCH]).softmax(1)
                    for i in range(0, len(images), PREDICT_BATCH)]
            return torch.cat(outs).numpy()

        predict(x_test[:2 * PREDICT_BATCH])
        start = time.perf_counter()
        predict(x_test)
        predict_ips = len(x_test) / (time.perf_counter() - start)
        one, one_tensor = x_test_np[:1], x_test[:1]
        call_us = median_us(lambda: model(one_tensor).softmax(1))
        predict_on_batch_us = median_us(lambda: model(torch.from_numpy(one)).softmax(1).numpy())
    return {
        "train_peak_rss_mib": peak,
        "predict_ips": predict_ips,
        "call_us": call_us,
        "predict_on_batch_us": predict_on_batch_us,
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


def child_main(name: str, data_path: str | None, epochs: int, seed: int, threads: int) -> None:
    """Entry point of a child: import, (optionally) train, print one JSON result line."""
    try:
        framework, import_s = import_framework(name)
    except ImportError as e:  # not installed in this interpreter
        report({"missing": f"{type(e).__name__}: {e}"})
        return
    result = {"contender": name, "import_s": import_s,
              "version": f"{framework.__name__} {framework.__version__}"}
    if data_path is not None:
        data = load_arrays(data_path)
        result["rss_mb_before_fit"] = current_rss_mb()
        if name.startswith("torch"):
            result.update(train_torch(framework, data, epochs, seed, threads,
                                      compiled=name == "torch-compile"))
            result["device"] = "cpu"
        else:
            spe = 32 if name.endswith("-spe32") else 1
            result.update(train_keras(framework, data, epochs, seed, spe))
            result["device"] = "cpu"
            if name.startswith("keras-jax"):
                import jax

                result["device"] = jax.default_backend()
                result["version"] += f", jax {jax.__version__}"
        result["steady_epoch_s"] = steady_epoch_s(result)
        result["first_epoch_s"] = result["epoch_s"][0]
    report(result)


# --------------------------------------------------------------------------------------------
# In the parent process
# --------------------------------------------------------------------------------------------

def child_command(name: str, *extra: str) -> list:
    return [os.path.abspath(__file__), "--child", name, *extra]


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


def machine_info(cpus) -> dict:
    return {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "pinned_cpus": list(cpus),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(VERSIONED_PACKAGES),
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


def results_table(results: dict, epochs: int) -> str:
    steady = "s/epoch (median, epochs 2+)" if epochs > 1 else "s/epoch (1 epoch)"
    ours = results.get("rskeras", {}).get("steady_epoch_s")
    rows = [
        (f"| contender | {steady} | ÷ rskeras | 1st epoch s | test acc | predict (images/s) "
         "| `model(x)`, 1 image (µs) | `predict_on_batch`, 1 image (µs) "
         "| peak RSS, training (MiB) | RSS per epoch MB |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        ratio = f"{r['steady_epoch_s'] / ours:.2f}x" if ours else "—"
        rows.append(
            f"| {name} | {_fmt(r['steady_epoch_s'])} | {ratio} | {_fmt(r['first_epoch_s'])} "
            f"| {r['test_acc']:.4f} | {r['predict_ips']:,.0f} | {r['call_us']:,.0f} "
            f"| {r['predict_on_batch_us']:,.0f} | {r['train_peak_rss_mib']:.0f} "
            f"| {_fmt_rss_series(r['rss_mb_per_epoch'])} |"
        )
    return "\n".join(rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fashion-MNIST MLP: rskeras vs Keras 3 (JAX) vs PyTorch (eager, compiled).",
    )
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--samples", type=int, default=None,
                        help="use only the first N training images (default: all 60000)")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"comma-separated contenders (default: {','.join(CONTENDERS)})")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of every contender, alternating; the best is shown (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write all results to PATH as JSON")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--import-runs", type=int, default=IMPORT_RUNS,
                        help=f"fresh interpreters per bare-import timing (default {IMPORT_RUNS})")
    add_interpreter_options(parser)
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
        child_main(args.child, args.data, args.epochs, args.seed, args.threads)
        return

    load_before = os.getloadavg()[0]
    cpus, env = pinned(args.threads)
    machine = machine_info(cpus)
    notes, results, import_times = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_mlp_") as tmp:
        progress("loading Fashion-MNIST with rskeras.datasets.fashion_mnist.load_data() ...")
        data_path, n_train = save_dataset(args.samples, tmp)
        for round_ in range(args.rounds):  # contenders alternate: load from elsewhere hits all
            for name in args.only:
                if name in notes_of(results):
                    continue
                progress(f"round {round_ + 1}: training {name}: {n_train} samples, "
                         f"{args.epochs} epoch(s) ...")
                new = run_contender(interpreter(args, name), child_command(
                    name, "--data", data_path, "--epochs", str(args.epochs),
                    "--seed", str(args.seed), "--threads", str(len(cpus))), cpus, env)
                results[name] = best_of(results[name], new) if name in results else new

    for name in args.only:
        if name not in IMPORT_STATEMENTS or name in notes_of(results):
            continue
        progress(f"timing `{IMPORT_STATEMENTS[name]}` in {args.import_runs} fresh interpreters ...")
        runs = [run_contender(interpreter(args, name), child_command(name, "--threads",
                                                                     str(len(cpus))), cpus, env)
                for _ in range(args.import_runs)]
        if all("import_s" in r for r in runs):
            runs = [r["import_s"] for r in runs]
            import_times[name] = {"median_s": statistics.median(runs), "runs_s": runs}

    for name, why in notes_of(results).items():
        notes.append(f"{name} {why}")
    trained = {name: r for name, r in results.items() if name not in notes_of(results)}

    # ---- report ----
    print("# Fashion-MNIST MLP benchmark\n")
    for line in header(cpus, load_before, args.rounds):
        print(line)
    print(f"- platform: {machine['platform']}")
    for name, r in trained.items():
        print(f"- {name}: {r['version']}, device {r['device']}, {r['os_threads']} OS threads"
              + (f", torch.get_num_threads()={r['torch_num_threads']}" if "torch_num_threads" in r
                 else ""))
    print(f"- workload: {n_train} training images ({VALIDATION_SPLIT:.0%} held out for validation), "
          f"10000 test images, batch {BATCH_SIZE}, {args.epochs} epoch(s), seed {args.seed}\n")

    if trained:
        print(results_table(trained, args.epochs))
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
        report_ = {
            "machine": machine,
            "settings": {"epochs": args.epochs, "train_samples": n_train, "batch_size": BATCH_SIZE,
                         "validation_split": VALIDATION_SPLIT, "seed": args.seed,
                         "rounds": args.rounds, "contenders": args.only},
            "results": results,
            "import_times": import_times,
            "notes": notes,
        }
        with open(args.json, "w") as f:
            json.dump(report_, f, indent=2)
        progress(f"wrote {args.json}")


def notes_of(results: dict) -> dict:
    """`{contender: "missing (why)" or "failed (why)"}` for those that did not run."""
    out = {}
    for name, r in results.items():
        for why in ("missing", "failed"):
            if why in r:
                out[name] = f"{why} ({r[why]})"
    return out


if __name__ == "__main__":
    main()
