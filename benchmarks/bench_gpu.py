"""The gpu device: matmul throughput, and MLP/CNN training time on Fashion-MNIST, of rskeras
on WebGPU (WGSL through wgpu-py) against PyTorch CUDA and against rskeras on the CPU.

Printed in one run (each contender in its own fresh subprocess):

* matmul GFLOP/s of two random float32 `(n, n)` matrices, n = 1024, 4096, 8192 (`--sizes`):
  ``rskeras-wgsl`` (`ops.matmul` on the gpu device, the register-tiled `shaders/matmul.wgsl`)
  and ``torch-cuda`` (`torch.matmul` in float32 with TF32 disabled, so both do full float32
  arithmetic). Each figure is `2 n^3 * repeats / seconds`, timed from the first dispatch to
  the end of a synchronization, after one warm-up product. The rskeras result of the
  smallest size is checked against NumPy (max relative error reported).
* host cost per op launch (``overhead``): microseconds to issue one small op (add, relu, sum,
  a small matmul) from Python, the device's execution excluded: what bounds the step time
  of small models, where kernels take microseconds.
* seconds per epoch of the Fashion-MNIST MLP (Flatten, Dense(128, relu), Dense(10,
  softmax), batch 32) and CNN (examples/fashion_mnist_cnn.py: two Conv2D+MaxPooling2D,
  Dropout, Dense; batch 64), Adam, sparse categorical cross-entropy, accuracy, shuffled, on
  the first `--samples` training images: ``rskeras-gpu`` (`fit(verbose=0)` with
  `rskeras.config.set_device("gpu")`), ``torch-cuda`` (the same network in a plain loop,
  data resident on the GPU, loss and accuracy accumulated on the GPU and read once per
  epoch, as `fit(verbose=0)` does) and ``rskeras-cpu``. The first epoch (pipeline
  compilation, buffer warm-up) is shown apart from the last.

A software adapter (Mesa's lavapipe, adapter type "CPU") is refused unless
`--allow-software` is given; its rows are then labelled with the adapter, and are a check that
the script runs, not GPU figures.

Run from the repository root, on a machine with a GPU and its Vulkan (Metal, DX12) driver:

    python benchmarks/bench_gpu.py
    python benchmarks/bench_gpu.py --sizes 1024,4096 --samples 12800 --epochs 2
    python benchmarks/bench_gpu.py --allow-software --sizes 64,128 --samples 256 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

from _machine import cpu_name  # benchmarks/_machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
MATMUL = ("rskeras-wgsl", "torch-cuda")
TRAINING = ("rskeras-gpu", "torch-cuda", "rskeras-cpu")
BATCH = {"mlp": 32, "cnn": 64}


# -- children --------------------------------------------------------------------------------
def _import_rskeras():
    """The installed rskeras (`pip install .` or `maturin develop`), never the source tree."""
    import rskeras

    return rskeras


def _time_repeated(run, sync, budget_s: float = 0.5) -> float:
    """Seconds per call of `run`, over enough calls to fill about `budget_s`."""
    run()
    sync()
    t = time.perf_counter()
    run()
    sync()
    once = time.perf_counter() - t
    repeats = max(3, min(50, math.ceil(budget_s / max(once, 1e-6))))
    t = time.perf_counter()
    for _ in range(repeats):
        run()
    sync()
    return (time.perf_counter() - t) / repeats


def matmul_rskeras(sizes, allow_software: bool) -> dict:
    import numpy as np

    keras = _import_rskeras()
    from rskeras.backend.webgpu.executor import get_executor

    keras.config.set_device("gpu")
    ex = get_executor()
    if ex.ctx.info.get("adapter_type") == "CPU" and not allow_software:
        raise SystemExit(f"software adapter {ex.ctx.name!r}: no GPU figures (--allow-software to run anyway)")
    rng = np.random.default_rng(0)
    out = {"device": f"{ex.ctx.name} ({ex.ctx.backend})", "gflops": {}}
    for n in sizes:
        a_host = rng.standard_normal((n, n), dtype=np.float32)
        b_host = rng.standard_normal((n, n), dtype=np.float32)
        a, b = keras.ops.convert_to_tensor(a_host).to("gpu"), keras.ops.convert_to_tensor(b_host).to("gpu")
        if n == min(sizes):
            want = a_host.astype(np.float64) @ b_host.astype(np.float64)
            got = keras.ops.matmul(a, b).numpy()
            out["max_rel_error"] = float(np.abs(got - want).max() / np.abs(want).max())
        seconds = _time_repeated(lambda: keras.ops.matmul(a, b), ex.synchronize)
        out["gflops"][str(n)] = 2 * n**3 / seconds / 1e9
    return out


OVERHEAD_OPS = 256  # launches timed per figure: fewer than the executor's flush threshold


def _launch_us(run, sync) -> float:
    """Host microseconds per launch of `run` (a small op): the time to issue
    `OVERHEAD_OPS` launches, with the device's execution left out (synchronized before and
    after, outside the timing). Best of 5."""
    best = math.inf
    for _ in range(6):
        sync()
        t = time.perf_counter()
        for _ in range(OVERHEAD_OPS):
            run()
        best = min(best, time.perf_counter() - t)
    sync()
    return 1e6 * best / OVERHEAD_OPS


def _overhead_cases(ops, x, w):
    return {"add": lambda: ops.add(x, x), "relu": lambda: ops.relu(x),
            "sum": lambda: ops.sum(x), "matmul (32,128)x(128,10)": lambda: ops.matmul(x, w)}


def overhead_rskeras() -> dict:
    import numpy as np

    keras = _import_rskeras()
    from rskeras.backend.webgpu.executor import get_executor

    keras.config.set_device("gpu")
    ex = get_executor()
    x = keras.ops.convert_to_tensor(np.ones((32, 128), np.float32)).to("gpu")
    w = keras.ops.convert_to_tensor(np.ones((128, 10), np.float32)).to("gpu")
    return {"device": f"{ex.ctx.name} ({ex.ctx.backend})",
            "us": {k: _launch_us(f, ex.synchronize) for k, f in _overhead_cases(keras.ops, x, w).items()}}


def overhead_torch() -> dict:
    torch = _cuda_torch()

    class Ops:  # the keras.ops names used by `_overhead_cases`
        add, relu, sum, matmul = torch.add, torch.relu, torch.sum, torch.matmul

    x, w = torch.ones(32, 128, device="cuda"), torch.ones(128, 10, device="cuda")
    return {"device": torch.cuda.get_device_name(),
            "us": {k: _launch_us(f, torch.cuda.synchronize) for k, f in _overhead_cases(Ops, x, w).items()}}


def _cuda_torch():
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("PyTorch has no CUDA device here")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def matmul_torch(sizes) -> dict:
    torch = _cuda_torch()
    gen = torch.Generator(device="cuda").manual_seed(0)
    out = {"device": torch.cuda.get_device_name(), "gflops": {}}
    for n in sizes:
        a = torch.randn(n, n, device="cuda", generator=gen)
        b = torch.randn(n, n, device="cuda", generator=gen)
        seconds = _time_repeated(lambda: torch.matmul(a, b), torch.cuda.synchronize)
        out["gflops"][str(n)] = 2 * n**3 / seconds / 1e9
    return out


def _keras_model(keras, model: str):
    if model == "mlp":
        layers = [keras.Input((28, 28)), keras.layers.Flatten(),
                  keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    else:
        layers = [keras.Input((28, 28, 1)),
                  keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
                  keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
                  keras.layers.Flatten(), keras.layers.Dropout(0.5),
                  keras.layers.Dense(10, activation="softmax")]
    return keras.Sequential(layers)


def train_rskeras(model_name: str, device: str, x, y, epochs: int, allow_software: bool) -> dict:
    keras = _import_rskeras()
    out = {"device": device}
    if device == "gpu":
        from rskeras.backend.webgpu.executor import get_executor

        keras.config.set_device("gpu")
        ex = get_executor()
        if ex.ctx.info.get("adapter_type") == "CPU" and not allow_software:
            raise SystemExit(f"software adapter {ex.ctx.name!r}: no GPU figures")
        out["device"] = f"{ex.ctx.name} ({ex.ctx.backend})"
    keras.utils.set_random_seed(0)
    model = _keras_model(keras, model_name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if model_name == "cnn":
        x = x[..., None]
    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    counts = None
    if device == "gpu":
        counts = (ex.dispatches, ex.submits, ex.downloads)
    history = model.fit(x, y, batch_size=BATCH[model_name], epochs=epochs, verbose=0,
                        callbacks=[EpochTimer()])
    out.update(epoch_s=seconds, accuracy=history.history["accuracy"][-1])
    if counts is not None:
        steps = epochs * math.ceil(len(x) / BATCH[model_name])
        out["per_step"] = {k: (now - before) / steps for k, now, before in
                           zip(("dispatches", "submits", "downloads"),
                               (ex.dispatches, ex.submits, ex.downloads), counts)}
    return out


def train_torch(model_name: str, x, y, epochs: int) -> dict:
    torch = _cuda_torch()
    torch.manual_seed(0)
    nn = torch.nn
    if model_name == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        xt = torch.from_numpy(x)
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
        xt = torch.from_numpy(x)[:, None]
    net = net.cuda()
    xt, yt = xt.cuda(), torch.from_numpy(y.astype("int64")).cuda()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    batch, seconds = BATCH[model_name], []
    for _ in range(epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(len(xt), device="cuda")
        loss_sum = torch.zeros((), device="cuda")
        hits = torch.zeros((), device="cuda")
        for i in range(0, len(xt), batch):
            idx = order[i:i + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            logits = net(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
            hits += (logits.argmax(1) == yb).sum()
        accuracy = float(hits) / len(xt)  # the epoch's one read-back
        float(loss_sum)
        seconds.append(time.perf_counter() - start)
    return {"device": torch.cuda.get_device_name(), "epoch_s": seconds, "accuracy": accuracy}


def child_main(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child.startswith("overhead-"):
        result = overhead_torch() if args.child.endswith("torch-cuda") else overhead_rskeras()
    elif args.child.startswith("matmul-"):
        name = args.child[len("matmul-"):]
        result = matmul_torch(sizes) if name == "torch-cuda" else matmul_rskeras(sizes, args.allow_software)
    else:
        import numpy as np

        model_name, name = args.child.split(":", 1)
        data = np.load(args.data)
        x, y = data["x"], data["y"]
        if name == "torch-cuda":
            result = train_torch(model_name, x, y, args.epochs)
        else:
            result = train_rskeras(model_name, name.split("-")[1], x, y, args.epochs, args.allow_software)
    print(json.dumps(result))


# -- parent ----------------------------------------------------------------------------------
def run_child(child: str, args, data_path: str = "") -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", child, "--sizes", args.sizes,
           "--epochs", str(args.epochs), "--data", data_path]
    if args.allow_software:
        cmd.append("--allow-software")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"# {child}: not run ({reason})", flush=True)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1024,4096,8192", help="matmul sizes n (default 1024,4096,8192)")
    p.add_argument("--samples", type=int, default=60000, help="training images (default all 60000)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per training run (default 2)")
    p.add_argument("--only", default="matmul,overhead,mlp,cnn",
                   help="parts to run (default matmul,overhead,mlp,cnn)")
    p.add_argument("--allow-software", action="store_true", help="run on a software adapter (lavapipe)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args)
    parts = args.only.split(",")
    print(f"- host: {cpu_name()}, {os.cpu_count()} logical cores, Python {platform.python_version()}")

    if "matmul" in parts:
        rows = {name: run_child(f"matmul-{name}", args) for name in MATMUL}
        print("\n| matmul float32 (GFLOP/s) | device | " + " | ".join(f"n={n}" for n in args.sizes.split(",")) + " |")
        print("|---|---|" + "---:|" * len(args.sizes.split(",")))
        for name, r in rows.items():
            if r:
                cells = " | ".join(f"{v:.0f}" for v in r["gflops"].values())
                print(f"| {name} | {r['device']} | {cells} |")
        ours, theirs = rows.get("rskeras-wgsl"), rows.get("torch-cuda")
        if ours and theirs:
            cells = " | ".join(f"{ours['gflops'][n] / theirs['gflops'][n]:.2f}x" for n in ours["gflops"])
            print(f"| rskeras ÷ torch (target >= 0.5x) | | {cells} |")
        if ours:
            print(f"\nrskeras matmul max relative error vs NumPy at n={min(map(int, args.sizes.split(',')))}: "
                  f"{ours['max_rel_error']:.1e}")

    if "overhead" in parts:
        rows = {name: run_child(f"overhead-{name}", args) for name in MATMUL}
        cases = next((list(r["us"]) for r in rows.values() if r), [])
        print(f"\n| host cost per op launch (us, {OVERHEAD_OPS} launches, execution excluded) | device | "
              + " | ".join(cases) + " |")
        print("|---|---|" + "---:|" * len(cases))
        for name, r in rows.items():
            if r:
                print(f"| {name} | {r['device']} | " + " | ".join(f"{r['us'][c]:.1f}" for c in cases) + " |")

    training = [m for m in ("mlp", "cnn") if m in parts]
    if training:
        import numpy as np

        rskeras = _import_rskeras()
        (x, y), _ = rskeras.datasets.fashion_mnist.load_data()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "data.npz")
            np.savez(path, x=x[:args.samples].astype("float32") / 255, y=y[:args.samples].astype("int32"))
            print(f"\nFashion-MNIST, {min(args.samples, len(x))} images, {args.epochs} epoch(s), "
                  f"Adam, shuffled; seconds per epoch (first epoch apart)\n")
            print("| model | contender | device | first epoch (s) | last epoch (s) | "
                  "last ÷ rskeras-gpu | train accuracy | GPU dispatches / step |")
            print("|---|---|---|---:|---:|---:|---:|---:|")
            for model_name in training:
                rows = {name: run_child(f"{model_name}:{name}", args, path) for name in TRAINING}
                ours = rows.get("rskeras-gpu")
                for name, r in rows.items():
                    if not r:
                        continue
                    last = r["epoch_s"][-1]
                    ratio = f"{last / ours['epoch_s'][-1]:.2f}x" if ours else "-"
                    per_step = r.get("per_step", {}).get("dispatches")
                    print(f"| {model_name} (batch {BATCH[model_name]}) | {name} | {r['device']} | "
                          f"{r['epoch_s'][0]:.2f} | {last:.2f} | {ratio} | {r['accuracy']:.4f} | "
                          f"{'' if per_step is None else f'{per_step:.0f}'} |")


if __name__ == "__main__":
    main()
