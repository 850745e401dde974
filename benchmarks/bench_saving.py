"""Save and load time of a ~10-million-parameter model, rskeras against Keras 3 on JAX.

The model, built the same way by both contenders:

    Input(784) -> Dense(2048, relu) x3 -> Dense(10, softmax)      10,020,874 parameters
    compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    fit on 32 random samples for one step (batch 32), so the Adam slots exist

so a file with the optimizer holds about 30 million float32 values (weights, then Adam's two
slots per weight). Formats, each written and read by the contender's own API:

* ``.keras``      -- ``model.save(path)`` / ``keras.models.load_model(path)``
* ``.h5``         -- the same calls (legacy HDF5 full-model format)
* ``.weights.h5`` -- ``model.save_weights(path)`` / ``model.load_weights(path)`` on the same,
  already built model

Each contender runs in its own fresh subprocess (``KERAS_BACKEND=jax`` for Keras), so no
import, thread pool or cache leaks from one to the other. In a child, for each format: one
warm-up save, then ``--reps`` timed saves (``time.perf_counter`` around the call alone), then
one warm-up load and ``--reps`` timed loads, with an ``os.sync()`` after each warm-up so no
earlier write is still being flushed; the figures are the medians. Every save
overwrites the same file in ``--dir`` (default: a new folder in the system temp dir), so loads
read a file the page cache holds: the load figures are CPU costs (parsing, copies, building
the model), not disk reads. The file size is the one on disk after the last save. After the
timed loads the child checks that the loaded weights equal the model's, exactly.

rskeras's saves are atomic and durable (temporary file, fsync, rename, fsync of the folder);
Keras's are neither, so the rskeras save figures include the time the disk takes to confirm
the write, which Keras leaves to the OS.

Keras is a benchmark dependency only: if ``import keras`` fails in its child, its rows say
"not installed". rskeras is imported as installed (``pip install .`` or ``maturin develop``);
this script never puts the source tree on ``sys.path``.

Run it from the repository root:

    python benchmarks/bench_saving.py
    python benchmarks/bench_saving.py --only rskeras --units 64 --reps 1     # quick smoke run
    python benchmarks/bench_saving.py --json saving.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _machine import cpu_name, package_versions  # benchmarks/_machine.py

CONTENDERS = ("rskeras", "keras-jax")
FORMATS = (".keras", ".h5", ".weights.h5")
VERSIONED_PACKAGES = ("numpy", "h5py", "rskeras", "keras", "jax", "jaxlib")
RESULT_MARKER = "BENCH_SAVING_RESULT "
INPUT_DIM, CLASSES, BATCH = 784, 10, 32


# --------------------------------------------------------------------------------------------
# Inside a child process
# --------------------------------------------------------------------------------------------

def import_framework(name: str):
    """The contender's `keras` module; ImportError when it is not installed."""
    if name == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ.setdefault("JAX_PLATFORMS", "cpu")  # rskeras runs on the CPU too
        import keras

        return keras
    import rskeras

    return rskeras


def build_model(keras, units: int, hidden: int, seed: int = 0):
    """The benchmark MLP, compiled with Adam and fitted one step so the slots exist."""
    import numpy as np

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((INPUT_DIM,))]
        + [keras.layers.Dense(units, activation="relu") for _ in range(hidden)]
        + [keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, INPUT_DIM)).astype("float32")
    y = rng.integers(0, CLASSES, BATCH)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return model


def time_calls(fn, reps: int) -> list[float]:
    fn()  # warm-up
    os.sync()  # start from clean page-cache state: no earlier write still being flushed
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def same_weights(a, b) -> bool:
    import numpy as np

    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(np.asarray(x), np.asarray(y))
                                      for x, y in zip(wa, wb, strict=True))


def child_main(name: str, folder: str, formats: list[str], units: int, hidden: int,
               reps: int) -> dict:
    try:
        keras = import_framework(name)
    except ImportError as e:
        return {"contender": name, "error": f"not installed ({e})"}
    import warnings

    warnings.filterwarnings("ignore")  # the legacy-.h5 advice, printed by both at every save
    model = build_model(keras, units, hidden)
    result = {"contender": name, "params": int(model.count_params()),
              "optimizer_variables": len(model.optimizer.variables), "formats": {}}
    for fmt in formats:
        path = os.path.join(folder, f"{name}-model{fmt}")
        if fmt == ".weights.h5":
            save_s = time_calls(lambda p=path: model.save_weights(p), reps)
            load_s = time_calls(lambda p=path: model.load_weights(p), reps)
            fresh = build_model(keras, units, hidden, seed=1)  # other weights, overwritten
            fresh.load_weights(path)
            exact = same_weights(model, fresh)
        else:
            save_s = time_calls(lambda p=path: model.save(p), reps)
            loaded = [None]

            def load(p=path, loaded=loaded):
                loaded[0] = None  # free the previous copy first: one loaded model at a time
                loaded[0] = keras.models.load_model(p)

            load_s = time_calls(load, reps)
            exact = same_weights(model, loaded[0])
            loaded[0] = None
        result["formats"][fmt] = {
            "save_s": save_s, "load_s": load_s, "file_mb": os.path.getsize(path) / 1e6,
            "exact": exact,
        }
        os.remove(path)
    return result


# --------------------------------------------------------------------------------------------
# In the parent process
# --------------------------------------------------------------------------------------------

def run_child(name: str, args) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", name, "--dir", args.dir,
               "--formats", ",".join(args.formats), "--units", str(args.units),
               "--hidden", str(args.hidden), "--reps", str(args.reps)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"contender": name, "error": f"failed, exit code {proc.returncode}: {tail[0]}"}


def filesystem_of(path: str) -> str:
    """`<type> on <device>` of the mount holding `path`, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("", "unknown", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                device, mount, fstype = line.split()[:3]
                if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best[0]):
                    best = (mount, fstype, device)
    except OSError:
        pass
    return f"{best[1]} on {best[2]}"


def machine_info(folder: str) -> dict:
    cpu = cpu_name()
    versions = package_versions(VERSIONED_PACKAGES)
    memory = "unknown"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        memory = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "memory": memory, "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "filesystem": filesystem_of(folder)}


def rows(results: list[dict], formats: list[str]) -> list[str]:
    out = ["| format | contender | save s | load s | file MB |", "|---|---|---:|---:|---:|"]
    for fmt in formats:
        for result in results:
            name = result["contender"]
            if "error" in result:
                out.append(f"| `{fmt}` | {name} | {result['error']} | | |")
                continue
            r = result["formats"][fmt]
            flag = "" if r["exact"] else " (weights differ after load!)"
            out.append(f"| `{fmt}` | {name} | {statistics.median(r['save_s']):.3f} "
                       f"| {statistics.median(r['load_s']):.3f}{flag} | {r['file_mb']:.1f} |")
    return out


def ratio_rows(results: list[dict], formats: list[str]) -> list[str]:
    by_name = {r["contender"]: r for r in results if "error" not in r}
    if not {"rskeras", "keras-jax"} <= set(by_name):
        return []
    ours, theirs = by_name["rskeras"]["formats"], by_name["keras-jax"]["formats"]
    out = ["| format | save: rskeras / keras-jax | load: rskeras / keras-jax |", "|---|---:|---:|"]
    for fmt in formats:
        save = statistics.median(ours[fmt]["save_s"]) / statistics.median(theirs[fmt]["save_s"])
        load = statistics.median(ours[fmt]["load_s"]) / statistics.median(theirs[fmt]["load_s"])
        out.append(f"| `{fmt}` | {save:.2f}x | {load:.2f}x |")
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Save/load time: rskeras vs Keras 3 on JAX.")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions after one warm-up (default 5)")
    parser.add_argument("--units", type=int, default=2048,
                        help="width of the hidden Dense layers (default 2048)")
    parser.add_argument("--hidden", type=int, default=3, help="number of hidden Dense layers (default 3)")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"comma-separated contenders (default: {','.join(CONTENDERS)})")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated formats (default: {','.join(FORMATS)})")
    parser.add_argument("--dir", help="folder for the files (default: a new temporary folder)")
    parser.add_argument("--json", metavar="PATH", help="also write all results to PATH as JSON")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    args.formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if set(args.only) - set(CONTENDERS):
        parser.error(f"unknown contender(s); choose from {', '.join(CONTENDERS)}")
    if set(args.formats) - set(FORMATS):
        parser.error(f"unknown format(s); choose from {', '.join(FORMATS)}")
    if args.reps < 1 or args.units < 1 or args.hidden < 0:
        parser.error("--reps and --units must be at least 1, --hidden at least 0")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        result = child_main(args.child, args.dir, args.formats, args.units, args.hidden, args.reps)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return

    own_dir = args.dir is None
    if own_dir:
        args.dir = tempfile.mkdtemp(prefix="bench_saving_")
    os.makedirs(args.dir, exist_ok=True)
    try:
        machine = machine_info(args.dir)
        results = []
        for name in args.only:
            print(f"timing {name} ...", file=sys.stderr, flush=True)
            results.append(run_child(name, args))
    finally:
        if own_dir:
            shutil.rmtree(args.dir, ignore_errors=True)

    params = next((r["params"] for r in results if "params" in r), None)
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    print("# Save / load benchmark\n")
    print(f"- machine: {machine['cpu']}, {machine['logical_cores']} logical cores "
          f"({machine['usable_cores']} usable), {machine['memory']}, Python {machine['python']}, "
          f"{machine['platform']}")
    print(f"- versions: {versions}")
    print(f"- files on: {machine['filesystem']} ({args.dir})")
    print(f"- model: Input({INPUT_DIM}) -> Dense({args.units}, relu) x{args.hidden} -> "
          f"Dense({CLASSES}, softmax), {params:,} parameters, Adam after one step"
          if params else "- model: none ran")
    print(f"- figures: median of {args.reps} after one warm-up, each contender in its own process\n")
    print("\n".join(rows(results, args.formats)))
    ratios = ratio_rows(results, args.formats)
    if ratios:
        print("\nBelow 1: rskeras is faster.\n")
        print("\n".join(ratios))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
