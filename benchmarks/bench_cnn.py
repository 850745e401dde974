"""Fashion-MNIST CNN: training step time and predict throughput of rskeras against Keras 3 on
JAX and plain PyTorch eager, measured in the same run.

The model is the one of examples/fashion_mnist_cnn.py:

    Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Flatten ->
    Dropout(0.5) -> Dense(10, softmax); Adam, sparse categorical cross-entropy, batch 64

Each contender runs in its own fresh subprocess (no shared imports or thread pools) on the same
real images (the first `--samples` training images, scaled to [0, 1]):

* ``rskeras`` and ``keras-jax``: ``model.fit(..., batch_size=64, epochs=1)``; a callback
  records the wall time between consecutive ``on_train_batch_end`` calls, so each figure is
  one whole step (data slicing, forward, backward, Adam, metrics) as ``fit`` runs it;
* ``torch-eager``: the same network (Conv2d/MaxPool2d/Linear, Keras initialisers are not
  needed for timing), Adam, cross-entropy on logits, the same batches, in a plain loop.

Reported: the median step time after `--warmup` steps (JIT compilation and buffer warm-up
excluded), and predict throughput (images/s) of ``predict(x, batch_size=256)`` (second call).

Run from the repository root:

    python benchmarks/bench_cnn.py                 # all contenders found
    python benchmarks/bench_cnn.py --only rskeras --samples 3200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from _machine import cpu_name  # benchmarks/_machine.py

CONTENDERS = ("rskeras", "keras-jax", "torch-eager")


def keras_child(name: str, x, y, warmup: int) -> dict:
    if name == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
    else:
        import rskeras as keras
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
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False, callbacks=[Stamp()])
    steps = [b - a for a, b in zip(stamps, stamps[1:])][warmup:]
    model.predict(x[:512], batch_size=256, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    predict_s = time.perf_counter() - t
    return {"step_ms": 1e3 * statistics.median(steps), "predict_ips": len(x) / predict_s}


def torch_child(x, y, warmup: int) -> dict:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y.astype("int64"))
    steps = []
    net.train()
    for i in range(0, len(xt) - 63, 64):
        t = time.perf_counter()
        opt.zero_grad()
        logits = net(xt[i:i + 64])
        loss = torch.nn.functional.cross_entropy(logits, yt[i:i + 64])
        loss.backward()
        opt.step()
        float(loss), float((logits.argmax(1) == yt[i:i + 64]).float().mean())  # like the progress bar
        steps.append(time.perf_counter() - t)
    net.eval()
    with torch.no_grad():
        for i in range(0, 512, 256):
            net(xt[i:i + 256])
        t = time.perf_counter()
        for i in range(0, len(xt), 256):
            net(xt[i:i + 256]).softmax(1)
        predict_s = time.perf_counter() - t
    return {"step_ms": 1e3 * statistics.median(steps[warmup:]), "predict_ips": len(xt) / predict_s}


def child_main(name: str, path: str, warmup: int) -> None:
    import numpy as np

    data = np.load(path)
    x, y = data["x"], data["y"]
    result = torch_child(x, y, warmup) if name == "torch-eager" else keras_child(name, x, y, warmup)
    print(json.dumps(result))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=6400, help="training images used (default 6400 = 100 steps)")
    p.add_argument("--warmup", type=int, default=10, help="steps left out of the median (default 10)")
    p.add_argument("--only", default=",".join(CONTENDERS))
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args.child, args.data, args.warmup)

    import numpy as np

    import rskeras  # the installed package (pip install .), never the source tree

    (x, y), _ = rskeras.datasets.fashion_mnist.load_data()
    x = (x[:args.samples].astype("float32") / 255)[..., None]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, x=x, y=y[:args.samples].astype("int32"))
        results = {}
        for name in args.only.split(","):
            proc = subprocess.run([sys.executable, __file__, "--child", name, "--data", path,
                                   "--warmup", str(args.warmup)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"# {name}: failed or not installed ({proc.stderr.strip().splitlines()[-1:]})")
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu = cpu_name()
    print(f"- machine: {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}; "
          f"{args.samples} images, batch 64, median of steps after the first {args.warmup}")
    print()
    print("| | train step (ms, batch 64) | predict (images/s) | step ÷ rskeras step |")
    print("|---|---:|---:|---:|")
    ours = results.get("rskeras", {}).get("step_ms")
    for name, r in results.items():
        ratio = f"{r['step_ms'] / ours:.2f}x" if ours else "-"
        print(f"| {name} | {r['step_ms']:.1f} | {r['predict_ips']:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
