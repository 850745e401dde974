"""Fashion-MNIST CNN: training step time, predict throughput, 1-sample latency and peak memory
of rskeras against Keras 3 on JAX and PyTorch, measured in the same run.

The model is the one of examples/fashion_mnist_cnn.py:

    Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Flatten ->
    Dropout(0.5) -> Dense(10, softmax); Adam, sparse categorical cross-entropy, batch 64

Contenders, each in its own fresh subprocess (optionally from its own interpreter), on the
same real images (the first `--samples` training images, scaled to [0, 1]):

* ``rskeras``, ``keras-jax``: ``model.fit(x, y, batch_size=64, epochs=1)`` as a user writes it
  (shuffled); a callback records the wall time of each ``on_train_batch_end``, so a step is
  everything ``fit`` does for one batch (gather, forward, backward, Adam, metrics);
* ``keras-jax-spe32``: the same with ``compile(steps_per_execution=32)``, which a user chasing
  speed sets (32 steps in one jitted call; the step time is the interval divided by 32);
* ``torch-eager``: the same network (Conv2d/MaxPool2d/Linear, weights and images in the
  channels_last memory format, which PyTorch's CPU tuning guide advises and which is the
  faster here) in the plain loop PyTorch users write, with ``torch.set_num_threads`` and
  ``torch.set_flush_denormal(True)`` (XLA flushes denormals too; without it Adam's decaying
  slots cost microcode assists on some x86 CPUs): one ``torch.randperm`` per epoch,
  then per batch an index gather, forward, ``cross_entropy`` on logits, ``zero_grad``,
  ``backward``, ``Adam.step``, and a running accuracy kept as a tensor (no ``.item()`` per step);
* ``torch-compile``: the same loop with the network wrapped in ``torch.compile`` (default mode;
  the optimizer step stays eager).

Reported per contender: the median train step after `--warmup` steps (JIT and compilation
excluded); predict throughput of ``predict(x, batch_size=256)`` over every image (second call;
PyTorch: the same batches under ``torch.inference_mode``, softmax, one NumPy array); the median
latency of one image through ``model(x)`` (a framework tensor in, blocked until ready) and
through ``predict_on_batch`` (NumPy in, NumPy out; PyTorch: ``from_numpy``, forward, softmax,
``.numpy()``); and the peak RSS of the child right after training (``getrusage``: import, data
and training together).

Every child is pinned to the same `--threads` CPUs with OMP/MKL/OpenBLAS/Rayon/rskeras thread
counts and ``torch.set_num_threads`` set to that number. Contenders run `--rounds` times,
alternating, and each figure is the best round (the machine may be shared). A contender whose
framework is not installed is reported as missing.

Run from the repository root:

    python benchmarks/bench_cnn.py                 # all contenders
    python benchmarks/bench_cnn.py --only rskeras --samples 3200 --rounds 1
    python benchmarks/bench_cnn.py --torch-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _machine import (  # benchmarks/_machine.py
    add_interpreter_options,
    best_of,
    header,
    interpreter,
    median_us,
    peak_rss_mib,
    pinned,
    report,
    run_contender,
)

CONTENDERS = ("rskeras", "keras-jax", "keras-jax-spe32", "torch-eager", "torch-compile")
BATCH = 64
PREDICT_BATCH = 256


def _step_ms(stamps, warmup: int) -> float:
    """Median time per step from `(batch index, time)` stamps taken at each callback: with
    steps_per_execution > 1 a callback covers several steps, so each interval is divided by
    the steps it holds. Intervals that begin before step `warmup` are left out."""
    import itertools
    import statistics

    intervals = [(t1 - t0) / (b1 - b0) for (b0, t0), (b1, t1) in itertools.pairwise(stamps)]
    later = [t for t, (b0, _) in zip(intervals, stamps) if b0 >= warmup]
    if not (later or intervals):
        raise ValueError(f"too few steps to time: callbacks came at batches {[b for b, _ in stamps]}")
    return 1e3 * statistics.median(later or intervals)


def keras_child(name: str, x, y, warmup: int) -> dict:
    if name.startswith("keras-jax"):
        os.environ["KERAS_BACKEND"] = "jax"
        import jax
        import keras

        version, ready = f"keras {keras.__version__}, jax {jax.__version__}", jax.block_until_ready
    else:
        import rskeras as keras

        version, ready = f"rskeras {keras.__version__}", (lambda value: value)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    spe = 32 if name.endswith("-spe32") else 1
    compile_kwargs = {"steps_per_execution": spe} if spe > 1 else {}
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  **compile_kwargs)
    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append((batch, time.perf_counter()))

    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[Stamp()])
    result = {"version": version, "step_ms": _step_ms(stamps, warmup),
              "train_peak_rss_mib": peak_rss_mib()}
    model.predict(x[:2 * PREDICT_BATCH], batch_size=PREDICT_BATCH, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    result["predict_ips"] = len(x) / (time.perf_counter() - t)
    one = x[:1]
    one_tensor = keras.ops.convert_to_tensor(one)
    result["call_us"] = median_us(lambda: ready(model(one_tensor)))
    result["predict_on_batch_us"] = median_us(lambda: model.predict_on_batch(one))
    return result


def torch_child(name: str, x, y, warmup: int, threads: int) -> dict:
    import statistics

    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as XLA does and rskeras's optimizer kernels do (see README)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
    # channels_last, as PyTorch's CPU performance guide advises for CNNs: on one thread of the
    # README's Xeon the step took 19.0-20.8 ms so and 23.7-25.6 ms in the
    # default NCHW layout (three runs each).
    # The images are NHWC already, so permute gives the channels_last view without a copy.
    net = net.to(memory_format=torch.channels_last)
    model = torch.compile(net) if name == "torch-compile" else net
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    yt = torch.from_numpy(y).long()
    steps = []
    model.train()
    order = torch.randperm(len(xt))
    correct = torch.zeros((), dtype=torch.long)
    for i in range(0, len(xt) - BATCH + 1, BATCH):
        t = time.perf_counter()
        idx = order[i:i + BATCH]
        xb, yb = xt[idx], yt[idx]
        logits = model(xb)
        loss = torch.nn.functional.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            correct += (logits.argmax(1) == yb).sum()
        steps.append(time.perf_counter() - t)
    result = {"version": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
              "step_ms": 1e3 * statistics.median(steps[warmup:]),
              "train_peak_rss_mib": peak_rss_mib(), "train_acc": correct.item() / len(steps) / BATCH}
    model.eval()
    with torch.inference_mode():
        def predict(images):
            outs = [model(images[i:i + PREDICT_BATCH]).softmax(1)
                    for i in range(0, len(images), PREDICT_BATCH)]
            return torch.cat(outs).numpy()

        predict(xt[:2 * PREDICT_BATCH])
        t = time.perf_counter()
        predict(xt)
        result["predict_ips"] = len(xt) / (time.perf_counter() - t)
        one = x[:1]
        one_tensor = xt[:1]
        result["call_us"] = median_us(lambda: model(one_tensor).softmax(1))
        result["predict_on_batch_us"] = median_us(
            lambda: model(torch.from_numpy(one).permute(0, 3, 1, 2)).softmax(1).numpy())
    return result


def child_main(args) -> None:
    import numpy as np

    data = np.load(args.data)
    x, y = data["x"], data["y"]
    try:
        if args.child.startswith("torch"):
            result = torch_child(args.child, x, y, args.warmup, args.threads)
        else:
            result = keras_child(args.child, x, y, args.warmup)
    except ImportError as e:  # the framework is not installed in this interpreter
        result = {"missing": f"{type(e).__name__}: {e}"}
    report(result)


def status(result: dict) -> str:
    """The version a child ran, or why it did not."""
    for why in ("missing", "failed"):
        if why in result:
            return f"{why} ({result[why]})"
    return result["version"]


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8192,
                   help="training images used (default 8192 = 128 steps, 4 executions of 32)")
    p.add_argument("--warmup", type=int, default=10, help="steps left out of the median (default 10)")
    p.add_argument("--rounds", type=int, default=2,
                   help="runs of every contender, alternating; the best is shown (default 2)")
    p.add_argument("--only", default=",".join(CONTENDERS))
    add_interpreter_options(p)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        p.error(f"unknown contender(s) {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")

    import tempfile

    import numpy as np
    import rskeras  # only its data set loader

    load_before = os.getloadavg()[0]
    (x, y), _ = rskeras.datasets.fashion_mnist.load_data()
    x = (x[:args.samples].astype("float32") / 255)[..., None]
    cpus, env = pinned(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, x=x, y=y[:args.samples].astype("int32"))
        for round_ in range(args.rounds):  # contenders alternate: load from elsewhere hits all
            for name in names:
                if round_ and not results.get(name, {}).get("step_ms"):
                    continue  # missing or failed in the first round
                print(f"round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                new = run_contender(interpreter(args, name),
                                    [os.path.abspath(__file__), "--child", name, "--data", path,
                                     "--warmup", str(args.warmup), "--threads", str(len(cpus))],
                                    cpus, env, timeout=600)
                results[name] = best_of(results[name], new) if name in results else new

    for line in header(cpus, load_before, args.rounds):
        print(line)
    print(f"- {args.samples} images, batch {BATCH}; train step: median of steps after the first "
          f"{args.warmup}; predict: batch {PREDICT_BATCH}; latency: median of 200 calls")
    for name, r in results.items():
        print(f"- {name}: {status(r)}")
    print()
    print("| | train step (ms, batch 64) | step ÷ rskeras | predict (images/s) "
          "| `model(x)`, 1 image (µs) | `predict_on_batch`, 1 image (µs) | peak RSS, training (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ours = results.get("rskeras", {}).get("step_ms")
    for name, r in results.items():
        if "step_ms" not in r:
            continue
        ratio = f"{r['step_ms'] / ours:.2f}x" if ours else "-"
        print(f"| {name} | {r['step_ms']:.1f} | {ratio} | {r['predict_ips']:,.0f} "
              f"| {_fmt(r.get('call_us'), ',.0f')} | {_fmt(r.get('predict_on_batch_us'), ',.0f')} "
              f"| {r['train_peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
