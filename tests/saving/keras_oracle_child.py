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

It never imports rskeras; the architectures below mirror tests/saving/_common.py.
"""

import json
import os
import sys
import traceback

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

L = keras.layers


@keras.saving.register_keras_serializable(package="fixtures")
class ScaledDense(keras.layers.Layer):
    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        return self.scale * (keras.ops.matmul(x, self.kernel) + self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@keras.saving.register_keras_serializable(package="saving_tests")
class Blocks(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.encoder = L.Dense(units, activation="relu")
        self.blocks = [L.Dense(units), L.LayerNormalization()]
        self.heads = {"a": L.Dense(2), "b": L.Dense(3)}
        self.proj = L.Dense(1)

    def call(self, x):
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        return self.proj(self.heads["a"](h)) + self.heads["b"](h)[:, :1]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def sequential_mlp():
    m = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"), L.Dropout(0.1),
                          L.Dense(4, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def functional_two_in_two_out():
    a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
    c = L.Concatenate()([L.Dense(6, activation="relu")(a), L.Dense(4, activation="relu")(b)])
    s = L.Add()([c, L.Dense(10, activation="relu")(c)])
    m = keras.Model([a, b], [L.Dense(2, name="reg")(s), L.Dense(3, activation="softmax", name="cls")(s)])
    m.compile(keras.optimizers.Adam(0.01), loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
              loss_weights={"reg": 0.5, "cls": 1.0}, metrics={"cls": ["accuracy"]})
    return m


def cnn_batchnorm():
    m = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
                          L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(),
                          L.Dense(3, activation="softmax")])
    m.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def nested():
    inner = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="relu"), L.Dense(4)],
                             name="inner")
    inp = keras.Input((5,))
    m = keras.Model(inp, L.Dense(2, name="head")(inner(L.Dense(6, name="pre")(inp))))
    m.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return m


def custom_layer():
    m = keras.Sequential([keras.Input((4,)), ScaledDense(3, scale=0.5), L.Dense(2)])
    m.compile("adam", "mse")
    return m


def blocks():
    m = Blocks(units=4)
    m(np.zeros((1, 5), "float32"))  # Keras's Model.build(shape) would not build the sublayers
    m.compile("adam", "mse")
    return m


BUILDERS = {f.__name__: f for f in (sequential_mlp, functional_two_in_two_out, cnn_batchnorm,
                                    nested, custom_layer, blocks)}


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
