"""The custom classes of the saving tests (`ScaledDense`, the custom layer of the fixtures, and
`Blocks`, a subclassed model) and the fixture architectures (make_saving_fixtures.py's builders),
written once against a Keras-like module: tests/saving/_common.py defines them with rskeras, and
keras_oracle_child.py with the real Keras. So this module imports neither (the child runs in a
virtual environment without rskeras): `define(keras)` makes them.

Layer names are given where the fixtures rely on auto-names, so that they do not depend on how
many layers the process made before.
"""

from __future__ import annotations

from types import SimpleNamespace


def define(keras) -> SimpleNamespace:
    """The classes, the builders and `BUILDERS` (case name -> builder), made with `keras`
    (rskeras or the real Keras); the classes are registered with `keras`'s registry."""
    L = keras.layers

    # The source in custom_layer.npz meta["custom_class_source"].
    @keras.saving.register_keras_serializable(package="fixtures")
    class ScaledDense(keras.layers.Layer):
        def __init__(self, units, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.scale = scale

        def build(self, input_shape):
            self.kernel = self.add_weight(
                shape=(input_shape[-1], self.units),
                initializer="glorot_uniform",
                name="kernel",
            )
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, x):
            return self.scale * (keras.ops.matmul(x, self.kernel) + self.bias)

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units, "scale": self.scale})
            return config

    # A subclassed model whose layers are held in an attribute, a list and a dict, plus one
    # (`proj`) whose attribute name sorts after "layers", so Keras stores it under layers/.
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

    def build_sequential_mlp(compile=True):
        model = keras.Sequential([
            keras.Input((8,)),
            L.Dense(16, activation="relu", name="dense"),
            L.Dropout(0.1, name="dropout"),
            L.Dense(4, activation="softmax", name="dense_1"),
        ], name="sequential")
        if compile:
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
        return model

    def build_functional_two_in_two_out(compile=True):
        a = keras.Input((5,), name="a")
        b = keras.Input((3,), name="b")
        ha = L.Dense(6, activation="relu", name="dense")(a)
        hb = L.Dense(4, activation="relu", name="dense_1")(b)
        c = L.Concatenate(name="concatenate")([ha, hb])
        d = L.Dense(10, activation="relu", name="dense_2")(c)
        s = L.Add(name="add")([c, d])
        reg = L.Dense(2, name="reg")(s)
        cls = L.Dense(3, activation="softmax", name="cls")(s)
        model = keras.Model(inputs=[a, b], outputs=[reg, cls], name="functional")
        if compile:
            model.compile(
                optimizer=keras.optimizers.Adam(0.01),
                loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                loss_weights={"reg": 0.5, "cls": 1.0},
                metrics={"cls": ["accuracy"]},
            )
        return model

    def build_cnn_batchnorm(compile=True):
        model = keras.Sequential([
            keras.Input((8, 8, 1)),
            L.Conv2D(4, 3, activation="relu", name="conv2d"),
            L.BatchNormalization(name="batch_normalization"),
            L.MaxPooling2D(name="max_pooling2d"),
            L.Flatten(name="flatten"),
            L.Dense(3, activation="softmax", name="dense"),
        ], name="sequential")
        if compile:
            model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def build_nested(compile=True):
        inner = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="relu", name="dense"),
                                  L.Dense(4, name="dense_1")], name="inner")
        inp = keras.Input((5,))
        h = L.Dense(6, name="pre")(inp)
        h = inner(h)
        out = L.Dense(2, name="head")(h)
        model = keras.Model(inp, out, name="functional_1")
        if compile:
            model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
        return model

    def build_custom_layer(compile=True, layer_class=ScaledDense):
        model = keras.Sequential([keras.Input((4,)), layer_class(3, scale=0.5, name="scaled_dense"),
                                  L.Dense(2, name="dense")], name="sequential")
        if compile:
            model.compile("adam", "mse")
        return model

    def build_uncompiled_mlp(compile=False):
        model = keras.Sequential([keras.Input((3,)), L.Dense(2, name="dense")], name="sequential")
        if compile:
            model.compile("adam", "mse")
        return model

    BUILDERS = {
        "sequential_mlp": build_sequential_mlp,
        "functional_two_in_two_out": build_functional_two_in_two_out,
        "cnn_batchnorm": build_cnn_batchnorm,
        "nested": build_nested,
        "custom_layer": build_custom_layer,
        "uncompiled_mlp": build_uncompiled_mlp,
    }
    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("keras", "L")})
