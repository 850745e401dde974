"""A subclassed `keras.Model` with a custom `train_step`, on Fashion-MNIST.

Run: python examples/subclassed_model.py
The model keeps its blocks in a list and its heads in a dict (both tracked automatically),
and overrides `train_step` with `keras.GradientTape`: it adds an L2 penalty on the logits
and tracks its own metrics. `fit`, `evaluate` and `predict` work as usual. Trains for 3
epochs on 30,000 images (well under a minute on a laptop CPU); test accuracy about 0.84.
"""

import time

import numpy as np
import rskeras as keras
from rskeras import ops


class ResidualMLP(keras.Model):
    """Flatten -> Dense stem -> residual Dense blocks (a list) -> heads (a dict)."""

    def __init__(self, units=96, blocks=2, num_classes=10, logit_penalty=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.stem = keras.layers.Dense(units, activation="relu")
        self.blocks = [keras.layers.Dense(units, activation="relu") for _ in range(blocks)]
        self.heads = {"logits": keras.layers.Dense(num_classes)}
        self.logit_penalty = logit_penalty
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, inputs, training=None):
        x = self.stem(self.flatten(inputs))
        for block in self.blocks:
            x = x + block(x)  # residual connection
        return self.heads["logits"](x)

    @property
    def metrics(self):
        # Listed here so that fit/evaluate reset them at each epoch.
        return [self.loss_tracker, self.accuracy]

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            logits = self(x, training=True)
            loss = self.loss_fn(y, logits) + self.logit_penalty * ops.mean(ops.square(logits))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(float(loss), sample_weight=int(x.shape[0]))
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data[0], data[1]
        logits = self(x, training=False)
        self.loss_tracker.update_state(float(self.loss_fn(y, logits)), sample_weight=int(x.shape[0]))
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}


start = time.time()
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[:30000].astype("float32") / 255
y_train = y_train[:30000]
x_test = x_test.astype("float32") / 255

keras.utils.set_random_seed(0)
model = ResidualMLP()
model.build((None, 28, 28))
model.summary()
model.compile(optimizer=keras.optimizers.Adam(1e-3))
history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1, verbose=2)
print("History keys:", sorted(history.history))
results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
print(f"Test accuracy: {results['accuracy']:.4f}  (loss {results['loss']:.4f})")
probs = ops.softmax(model.predict(x_test[:5], verbose=0))
print("Predicted classes:", np.argmax(np.asarray(probs), axis=-1), "labels:", y_test[:5])
print(f"Done in {time.time() - start:.1f} s")
