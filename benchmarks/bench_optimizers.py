"""The optimizer update alone: ms per step for a 10-million-parameter model, rskeras against
Keras 3 on JAX (jit-compiled) and torch.optim (foreach), measured in the same run.

The variables are shaped like a small VGG-style CNN with a wide dense head (float32):

    conv 3x3: 3->64, 64->128, 128->256, 256->512; dense 8192->1024, 1024->10; a bias each
    = 9,950,858 parameters in 12 variables

and the gradients are fixed random tensors (drawn once, seed 0, scale 1e-3). One step is the
update of every variable and its slots from those gradients:

* ``rskeras``      -- ``optimizer.apply(grads, variables)`` (the fused update over all
                      variables);
* ``keras-jax``    -- Keras 3 on JAX as a user chasing speed writes it: the optimizer's
                      ``stateless_apply(optimizer_variables, grads, trainable_variables)`` inside
                      one ``jax.jit`` with the variable and slot buffers donated, and
                      ``block_until_ready`` on the result;
* ``torch``        -- ``torch.optim`` with ``foreach=True``, ``.grad`` set once, ``step()``
                      under ``torch.no_grad``, denormals flushed as XLA and rskeras do.

Optimizers, with the same hyper-parameters everywhere: SGD (lr 0.01, momentum 0.9), Adam
(lr 1e-3, betas 0.9/0.999, epsilon 1e-7) and AdamW (the same, weight decay 0.004, Keras's
default). Reported: the median of `--steps` timed steps after `--warmup` untimed ones; every
contender runs `--rounds` times, alternating with the others, and the best median is shown
(the machine may be shared; a slow round is load from elsewhere, not the optimizer).

Each contender runs in its own fresh subprocess, optionally from its own interpreter
(`--keras-python`, `--torch-python`, `--rskeras-python`; default: this one), pinned to the
same `--threads` CPUs (`os.sched_setaffinity`) with OMP/MKL/OpenBLAS/Rayon/rskeras thread
counts and ``torch.set_num_threads`` set to that number. A contender whose framework (or
optimizer) is not installed is reported as missing.

Run from the repository root:

    python benchmarks/bench_optimizers.py
    python benchmarks/bench_optimizers.py --torch-python /path/to/venv/bin/python --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from _machine import THREAD_ENV_VARS, cpu_flags, cpu_name  # benchmarks/_machine.py

CONTENDERS = ("rskeras", "keras-jax", "torch")
OPTIMIZERS = ("SGD", "Adam", "AdamW")
SHAPES = [(3, 3, 3, 64), (64,), (3, 3, 64, 128), (128,), (3, 3, 128, 256), (256,),
          (3, 3, 256, 512), (512,), (8192, 1024), (1024,), (1024, 10), (10,)]
LR = {"SGD": 0.01, "Adam": 1e-3, "AdamW": 1e-3}
WEIGHT_DECAY = 0.004


def _arrays():
    import numpy as np

    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in SHAPES]
    grads = [(rng.standard_normal(s) * 1e-3).astype(np.float32) for s in SHAPES]
    return weights, grads


def _median_ms(step, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def _keras_arguments(name: str) -> dict:
    """The same hyper-parameters for rskeras and Keras."""
    if name == "SGD":
        return {"learning_rate": LR[name], "momentum": 0.9}
    kwargs = {"learning_rate": LR[name], "epsilon": 1e-7}
    if name == "AdamW":
        kwargs["weight_decay"] = WEIGHT_DECAY
    return kwargs


def rskeras_child(names, warmup, steps) -> dict:
    import rskeras as keras

    weights, grads = _arrays()
    out = {"version": keras.__version__, "threads": keras._core.num_threads()}
    for name in names:
        cls = getattr(keras.optimizers, name, None)
        if cls is None:
            out[name] = None
            continue
        opt = cls(**_keras_arguments(name))
        variables = [keras.Variable(w) for w in weights]
        g = [keras.ops.convert_to_tensor(x) for x in grads]
        out[name] = _median_ms(lambda opt=opt, g=g, v=variables: opt.apply(g, v), warmup, steps)
    return out


def keras_jax_child(names, warmup, steps) -> dict:
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras

    weights, grads = _arrays()
    out = {"version": f"keras {keras.__version__}, jax {jax.__version__}"}
    for name in names:
        opt = getattr(keras.optimizers, name)(**_keras_arguments(name))
        variables = [keras.Variable(w) for w in weights]
        opt.build(variables)
        state = {"params": [v.value for v in variables],
                 "slots": [v.value for v in opt.variables]}
        g = [jax.numpy.asarray(x) for x in grads]

        def apply(params, slots, grads, opt=opt):
            return opt.stateless_apply(slots, grads, params)

        update = jax.jit(apply, donate_argnums=(0, 1))

        def step(update=update, state=state, g=g):
            params, slots = update(state["params"], state["slots"], g)
            jax.block_until_ready(params)
            state["params"], state["slots"] = params, slots

        out[name] = _median_ms(step, warmup, steps)
    return out


def torch_child(names, warmup, steps, threads) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as XLA and rskeras do (see bench_mlp.py)
    weights, grads = _arrays()
    out = {"version": torch.__version__, "threads": torch.get_num_threads()}
    for name in names:
        params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in weights]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        if name == "SGD":
            opt = torch.optim.SGD(params, lr=LR[name], momentum=0.9, foreach=True)
        elif name == "Adam":
            opt = torch.optim.Adam(params, lr=LR[name], eps=1e-7, foreach=True)
        else:
            opt = torch.optim.AdamW(params, lr=LR[name], eps=1e-7, weight_decay=WEIGHT_DECAY,
                                    foreach=True)
        out[name] = _median_ms(opt.step, warmup, steps)
    return out


def child_main(args) -> None:
    names = args.optimizers.split(",")
    if args.child == "rskeras":
        result = rskeras_child(names, args.warmup, args.steps)
    elif args.child == "keras-jax":
        result = keras_jax_child(names, args.warmup, args.steps)
    else:
        result = torch_child(names, args.warmup, args.steps, args.threads)
    print(json.dumps(result))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(CONTENDERS))
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    p.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    p.add_argument("--rounds", type=int, default=3,
                   help="runs of every contender, alternating; the best median is shown (default 3)")
    p.add_argument("--threads", type=int, default=2, help="CPUs and threads for each (default 2)")
    for name in CONTENDERS:
        p.add_argument(f"--{name.split('-')[0]}-python", default=sys.executable,
                       help=f"the interpreter that runs {name} (default: this one)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args)

    load_before = os.getloadavg()[0]
    cpus = sorted(os.sched_getaffinity(0))[:args.threads]
    env = dict(os.environ)
    for var in THREAD_ENV_VARS:
        env[var] = str(len(cpus))
    results = {}
    for _ in range(args.rounds):  # contenders alternate, so load from elsewhere hits all alike
        for name in args.only.split(","):
            if "missing" in results.get(name, {}):
                continue
            python = getattr(args, f"{name.split('-')[0]}_python")
            cmd = [python, os.path.abspath(__file__), "--child", name,
                   "--optimizers", args.optimizers, "--warmup", str(args.warmup),
                   "--steps", str(args.steps), "--threads", str(len(cpus))]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                                      preexec_fn=lambda: os.sched_setaffinity(0, cpus))
            except OSError as e:  # no such interpreter
                results[name] = {"missing": f"{python}: {e.strerror}"}
                continue
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                results[name] = {"missing": last}
                continue
            new = json.loads(proc.stdout.strip().splitlines()[-1])
            old = results.setdefault(name, new)
            for opt in args.optimizers.split(","):  # the best round's median
                if new.get(opt) is not None and old.get(opt) is not None:
                    old[opt] = min(old[opt], new[opt])

    params = sum(_size(s) for s in SHAPES)
    print(f"- machine: {cpu_name()} ({cpu_flags()}), {os.cpu_count()} logical cores, "
          f"Python {platform.python_version()}; each contender pinned to CPUs {cpus} with "
          f"{len(cpus)} threads")
    print(f"- {params:,} float32 parameters in {len(SHAPES)} variables; median of "
          f"{args.steps} steps after {args.warmup} warm-up steps, best of {args.rounds} "
          "alternating rounds")
    print(f"- load average (1 min) from other processes: {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (this run included)")
    for name, r in results.items():
        print(f"- {name}: " + (f"missing ({r['missing']})" if "missing" in r else r["version"]))
    print()
    names = [n for n in results if "missing" not in results[n]]
    print("| ms per step | " + " | ".join(names) + " | rskeras ÷ fastest peer |")
    print("|---|" + "---:|" * (len(names) + 1))
    for opt in args.optimizers.split(","):
        cells = []
        for n in names:
            v = results[n].get(opt)
            cells.append("missing" if v is None else f"{v:.2f}")
        ours = results.get("rskeras", {}).get(opt)
        peers = [results[n].get(opt) for n in names if n != "rskeras"]
        peers = [v for v in peers if v is not None]
        ratio = f"{ours / min(peers):.2f}x" if ours and peers else "-"
        print(f"| {opt} | " + " | ".join(cells) + f" | {ratio} |")


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


if __name__ == "__main__":
    main()
