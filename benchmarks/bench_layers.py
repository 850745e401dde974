"""Layer kernels (batch/layer normalization, max pooling, depthwise and plain convolution):
forward+backward time of rskeras against PyTorch (CPU) and Keras 3 on JAX, in the same run.

Each contender runs in a fresh subprocess on the same NumPy inputs, weights and upstream
gradient `g`: ``rskeras`` calls the Keras layer under ``rskeras.GradientTape`` and takes
``tape.gradient(y, sources, output_gradients=g)`` (plus, for the two normalizations, the composed
``ops`` path that the fused kernels replace); ``torch`` runs ``torch.nn.functional`` on
channels-first tensors with ``torch.autograd.grad(y, sources, g)`` on ``os.cpu_count()``
threads; ``keras-jax`` runs the same Keras layer through ``jax.jit(jax.value_and_grad(
sum(layer.stateless_call(...) * g)))`` and ``block_until_ready``. Sources: the input and the
trainable weights (the CNN's first conv: weights only, its input is data); "fwd" rows run
without a tape / under ``no_grad``. Reported: the median ms of `--repeats` calls after
`--warmup` calls, peer ÷ rskeras, and the largest |rskeras - torch| over output and gradients
(the run fails if they differ by more than 1e-3 of the reference's magnitude).

    python benchmarks/bench_layers.py
    python benchmarks/bench_layers.py --only rskeras,torch,bn,ln --repeats 50
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

import numpy as np

from _machine import cpu_name  # benchmarks/_machine.py

CONTENDERS = ("rskeras", "torch", "keras-jax")
GROUPS = {  # kernel group -> {row: label}
    "bn": {"bn": "BatchNormalization train (64,16,16,64), fwd+bwd",
           "bn-composed": "↳ rskeras composed: ops.moments + ops.batch_normalization"},
    "ln": {"ln": "LayerNormalization axis -1 (64,128,256), fwd+bwd",
           "ln-composed": "↳ rskeras composed: ops.moments + arithmetic"},
    "maxpool": {"maxpool-fwd": "MaxPooling2D 2x2 (64,26,26,32), fwd",
                "maxpool": "MaxPooling2D 2x2 (64,26,26,32), fwd+bwd"},
    "depthwise": {"depthwise-fwd": "DepthwiseConv2D 3x3 same (64,32,32,32), fwd",
                  "depthwise": "DepthwiseConv2D 3x3 same (64,32,32,32), fwd+bwd"},
    "conv": {"conv1": "Conv2D(32,3) (64,28,28,1), fwd+bwd (weights)",
             "conv2": "Conv2D(64,3) (64,13,13,32), fwd+bwd"},
}
LABELS = {row: label for rows in GROUPS.values() for row, label in rows.items()}
REFERENCE = {"bn-composed": "bn", "ln-composed": "ln"}  # torch row a composed row is checked against


def data(row):
    """Inputs (channels-last), upstream gradient and Keras-layout weights of a row."""
    group = next(g for g, rows in GROUPS.items() if row in rows)
    rng = np.random.default_rng(list(GROUPS).index(group))
    r = lambda *s, scale=1.0: (rng.standard_normal(s) * scale).astype("float32")
    if group in ("bn", "ln"):
        shape = (64, 16, 16, 64) if group == "bn" else (64, 128, 256)
        x, c = r(*shape, scale=2.0) + 0.5, shape[-1]
        return x, r(*shape), [1 + r(c, scale=0.1), r(c, scale=0.1)]
    if group == "maxpool":
        return r(64, 26, 26, 32), r(64, 13, 13, 32), []
    if group == "depthwise":
        return r(64, 32, 32, 32), r(64, 32, 32, 32), [r(3, 3, 32, 1, scale=0.3)]
    if row == "conv1":
        return r(64, 28, 28, 1), r(64, 26, 26, 32), [r(3, 3, 1, 32, scale=0.3), r(32, scale=0.1)]
    return r(64, 13, 13, 32), r(64, 11, 11, 64), [r(3, 3, 32, 64, scale=0.06), r(64, scale=0.1)]


def keras_layer(keras, row, x, weights):
    """The Keras layer of a row, built and loaded with `weights`; call kwargs."""
    L = keras.layers
    kind = row.split("-")[0]
    layer = {"bn": L.BatchNormalization, "ln": L.LayerNormalization, "maxpool": lambda: L.MaxPooling2D(2),
             "depthwise": lambda: L.DepthwiseConv2D(3, padding="same", use_bias=False),
             "conv1": lambda: L.Conv2D(32, 3), "conv2": lambda: L.Conv2D(64, 3)}[kind]()
    layer.build(x.shape)
    if row.startswith("bn"):
        weights = weights + [np.zeros(x.shape[-1], "float32"), np.ones(x.shape[-1], "float32")]
    layer.set_weights(weights)
    return layer, {"training": True} if kind == "bn" else {}


def rskeras_row(row):
    import rskeras as keras
    from rskeras import ops
    x, g, weights = data(row)
    x, g = ops.convert_to_tensor(x), ops.convert_to_tensor(g)
    layer, kw = keras_layer(keras, row, x, weights)
    srcs = [x, *layer.trainable_variables][row == "conv1":]  # conv1's input is data
    gamma, beta = (layer.gamma, layer.beta) if row[:2] in ("bn", "ln") else (None, None)

    def call():
        if row == "bn-composed":
            mean, var = ops.moments(x, axes=(0, 1, 2))
            return ops.batch_normalization(x, mean, var, -1, offset=beta, scale=gamma, epsilon=1e-3)
        if row == "ln-composed":
            mean, var = ops.moments(x, axes=-1, keepdims=True)
            return (x - mean) * ops.rsqrt(var + 1e-3) * gamma + beta
        return layer(x, **kw)

    def step():
        if row.endswith("-fwd"):
            return [call()]
        with keras.GradientTape() as tape:
            tape.watch(x)
            y = call()
        return [y, *tape.gradient(y, srcs, output_gradients=g)]
    return step, None


def torch_row(row):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(os.cpu_count())
    cf = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2) if a.ndim == 4 else a))
    x, g, weights = data(row)
    x, g = cf(x).requires_grad_(row != "conv1"), cf(g)
    ws = [torch.from_numpy(w) for w in weights]
    perm = {}  # index of a result -> permutation from the torch layout to Keras's
    if row == "bn":
        rm, rv = torch.zeros(x.shape[1]), torch.ones(x.shape[1])
        call = lambda: F.batch_norm(x, rm, rv, ws[0], ws[1], True, 0.01, 1e-3)
    elif row == "ln":
        call = lambda: F.layer_norm(x, (x.shape[-1],), ws[0], ws[1], 1e-3)
    elif row.startswith("maxpool"):
        call = lambda: F.max_pool2d(x, 2)
    elif row.startswith("depthwise"):  # (kh, kw, C, 1) -> (C, 1, kh, kw), groups = C
        ws[0] = torch.from_numpy(weights[0].transpose(2, 3, 0, 1).copy())
        call = lambda: F.conv2d(x, ws[0], padding=1, groups=x.shape[1])
        perm = {2: (2, 3, 0, 1)}
    else:  # (kh, kw, I, O) -> (O, I, kh, kw)
        ws[0] = torch.from_numpy(weights[0].transpose(3, 2, 0, 1).copy())
        call = lambda: F.conv2d(x, ws[0], ws[1])
        perm = {1 if row == "conv1" else 2: (2, 3, 1, 0)}
    srcs = ([x] if x.requires_grad else []) + [w.requires_grad_() for w in ws]

    def post(ts):
        return [t.detach().permute(*perm.get(i, (0, 2, 3, 1) if t.ndim == 4 else range(t.ndim))).numpy()
                for i, t in enumerate(ts)]

    def step():
        if row.endswith("-fwd"):
            with torch.no_grad():
                return [call()]
        y = call()
        return [y, *torch.autograd.grad(y, srcs, g)]
    return step, post


def jax_row(row):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import jax.numpy as jnp
    import keras
    x, g, weights = data(row)
    layer, kw = keras_layer(keras, row, x, weights)
    x, g = jnp.asarray(x), jnp.asarray(g)
    tv = [v.value for v in layer.trainable_variables]
    ntv = [v.value for v in layer.non_trainable_variables]

    def forward(tv, x):
        return layer.stateless_call(tv, ntv, x, **kw)[0]

    def loss(tv, x):  # (the scalar to differentiate, the output as auxiliary data)
        y = forward(tv, x)
        return jnp.sum(y * g), y
    if row.endswith("-fwd"):
        f = jax.jit(forward)
        return (lambda: [f(tv, x).block_until_ready()]), None
    f = jax.jit(jax.value_and_grad(loss, argnums=0 if row == "conv1" else (0, 1), has_aux=True))

    def step():
        (_, y), grads = jax.block_until_ready(f(tv, x))
        return [y, *grads] if row == "conv1" else [y, grads[1], *grads[0]]
    return step, None


def child_main(name, rows, path, warmup, repeats):
    builder = {"rskeras": rskeras_row, "torch": torch_row, "keras-jax": jax_row}[name]
    timings, arrays = {}, {}
    for row in rows:
        if name != "rskeras" and row.endswith("-composed"):
            continue
        step, post = builder(row)
        result = step()
        for i, a in enumerate(post(result) if post else [np.asarray(t) for t in result]):
            arrays[f"{row}/{i}"] = a
        for _ in range(warmup):
            step()
        samples = []
        for _ in range(repeats):
            t = time.perf_counter()
            step()
            samples.append(time.perf_counter() - t)
        timings[row] = 1e3 * statistics.median(samples)
    np.savez(path, **arrays)
    print(json.dumps(timings))


def max_diff(ours, ref, row):
    """Largest |ours - ref| over output and gradients, worst one relative to the reference's scale,
    and the number of arrays compared."""
    pairs = [(a, ref[k.replace(row, REFERENCE.get(row, row), 1)]) for k, a in ours.items()
             if k.startswith(row + "/")]
    absolute = max(float(np.max(np.abs(a - b))) for a, b in pairs)
    relative = max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)) for a, b in pairs)
    return absolute, relative, len(pairs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20, help="timed calls per row (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    p.add_argument("--only", default="", help="comma list of contenders (rskeras, torch, keras-jax) "
                   "and/or kernels (bn, ln, maxpool, depthwise, conv); default: all")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--rows", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args.child, args.rows.split(","), args.out, args.warmup, args.repeats)
    only = set(filter(None, args.only.split(",")))
    unknown = only - set(CONTENDERS) - set(GROUPS)
    if unknown:
        p.error(f"--only: unknown names {sorted(unknown)}")
    contenders = [c for c in CONTENDERS if c in only] or list(CONTENDERS)
    rows = [r for grp, rs in GROUPS.items() if grp in only or not only & set(GROUPS) for r in rs]

    timings, arrays = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in contenders:
            path = os.path.join(tmp, f"{name}.npz")
            cmd = [sys.executable, __file__, "--child", name, "--rows", ",".join(rows), "--out", path,
                   "--warmup", str(args.warmup), "--repeats", str(args.repeats)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"# {name}: failed or not installed ({proc.stderr.strip().splitlines()[-1:]})")
                continue
            timings[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            with np.load(path) as npz:
                arrays[name] = {k: npz[k] for k in npz.files}

    import rskeras
    cpu = cpu_name()
    print(f"- machine: {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}; "
          f"rskeras {rskeras.__version__} ({rskeras._core.num_threads()} threads), median of "
          f"{args.repeats} calls after {args.warmup} warm-up calls, float32")
    print()
    print("| kernel | rskeras ms | torch ms | keras-jax ms | torch ÷ rskeras | keras-jax ÷ rskeras "
          "| max abs diff rskeras vs torch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    mismatches = []
    fmt = lambda v: f"{v:.2f}" if v is not None else "-"
    for row in rows:
        ours = timings.get("rskeras", {}).get(row)
        peers = [timings.get(c, {}).get(row) for c in ("torch", "keras-jax")]
        ratios = [f"{v / ours:.2f}x" if v is not None and ours else "-" for v in peers]
        diff = "-"
        for name in ("rskeras", "keras-jax"):  # keras-jax is checked too, without a column
            if name in arrays and "torch" in arrays and (name == "rskeras" or row in timings[name]):
                absolute, relative, n = max_diff(arrays[name], arrays["torch"], row)
                diff = f"{absolute:.1e} ({n} arrays)" if name == "rskeras" else diff
                if relative > 1e-3:
                    mismatches.append(f"{row}: {name} and torch differ by {relative:.1e} of the scale")
        print(f"| {LABELS[row]} | {fmt(ours)} | {fmt(peers[0])} | {fmt(peers[1])} | {ratios[0]} "
              f"| {ratios[1]} | {diff} |")
    if mismatches:
        sys.exit("numerical mismatch (not the same computation):\n" + "\n".join(mismatches))


if __name__ == "__main__":
    main()
