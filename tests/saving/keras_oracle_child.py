"""Child process of tests/saving/test_keras_reads_ours.py, run by the REAL Keras 3 (JAX):
load the files rskeras wrote and report what Keras sees.

    KERAS_BACKEND=jax python keras_oracle_child.py WORKDIR

WORKDIR holds manifest.json ({"cases": {case: [".keras", ".h5", ".weights.h5", ...]}}),
<case>.inputs.npz (x_0, x_1, ...) and the model files <case><ext>. For each file this writes
<case><ext>.out.npz (y_i: predictions, w_i: get_weights(), opt_i: optimizer.variables) and
adds an entry to results.json: error (None, or the exception), compile_error (a legacy .h5
that Keras could only load with compile=False), compiled, optimizer class, learning rate,
iterations. `.keras` and `.h5` go through keras.models.load_model; `.weights.h5` through
load_weights into the same architecture built here with Keras.

It never imports rskeras; the architectures and custom classes are those of
tests/saving/_common.py, made with Keras from tests/saving/_architectures.py.
"""

import json
import os
import sys
import traceback

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

# The architectures and custom classes of tests/saving/_common.py, made here with Keras. `python -I`
# leaves this script's folder off sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _architectures import define  # noqa: E402  (imports neither keras nor rskeras)

ARCHITECTURES = define(keras)


def blocks():
    m = ARCHITECTURES.Blocks(units=4)
    m(np.zeros((1, 5), "float32"))  # Keras's Model.build(shape) would not build the sublayers
    m.compile("adam", "mse")
    return m


BUILDERS = {**ARCHITECTURES.BUILDERS, "blocks": blocks}


def load(case, path):
    """(model, compile_error) for one file."""
    if path.endswith(".weights.h5"):
        model = BUILDERS[case]()
        model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
        return model, None
    if path.endswith(".keras"):
        return keras.models.load_model(path), None
    try:  # Keras cannot re-compile a legacy .h5 whose loss is an alias such as "mse" (#19330)
        return keras.models.load_model(path), None
    except Exception as e:  # noqa: BLE001
        return keras.models.load_model(path, compile=False), f"{type(e).__name__}: {e}"


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def main(workdir):
    with open(os.path.join(workdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    results = {}
    for case, extensions in manifest["cases"].items():
        with np.load(os.path.join(workdir, case + ".inputs.npz")) as z:
            xs = [z[f"x_{i}"] for i in range(len(z.files))]
        for ext in extensions:
            key = case + ext
            entry = results[key] = {"error": None}
            try:
                model, entry["compile_error"] = load(case, os.path.join(workdir, key))
                y = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
                out = {f"y_{i}": np.asarray(v) for i, v in enumerate(as_list(y))}
                out.update({f"w_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())})
                opt = getattr(model, "optimizer", None)
                entry["compiled"] = bool(model.compiled)
                if opt is not None:
                    variables = [keras.ops.convert_to_numpy(v) for v in opt.variables]
                    out.update({f"opt_{i}": v for i, v in enumerate(variables)})
                    entry.update(optimizer=type(opt).__name__, iterations=int(variables[0]),
                                 learning_rate=float(keras.ops.convert_to_numpy(opt.learning_rate)))
                np.savez(os.path.join(workdir, key + ".out.npz"), **out)
            except Exception as e:  # noqa: BLE001 - reported to the test
                entry["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    with open(os.path.join(workdir, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
