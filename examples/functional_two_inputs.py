"""A Functional model with two inputs and a residual connection, on Fashion-MNIST.

Run: python examples/functional_two_inputs.py
Each image is split into its top and bottom halves (14 x 28 pixels each), fed to the model
as two inputs. Each half goes through its own Dense branch; the branches are summed and a
residual block (`h + Dense(h)`) follows, written with the `+` operator on KerasTensors. It
trains for 3 epochs on 30,000 images (well under a minute on a laptop CPU) and prints the
summary, the history and the test accuracy (about 0.85).
"""

import time

import numpy as np
import rskeras as keras

start = time.time()
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[:30000].astype("float32") / 255
y_train = y_train[:30000]
x_test = x_test.astype("float32") / 255


def halves(images):
    """Top and bottom halves, each flattened to 14 * 28 = 392 features."""
    return images[:, :14].reshape(len(images), -1), images[:, 14:].reshape(len(images), -1)


top_train, bottom_train = halves(x_train)
top_test, bottom_test = halves(x_test)

top = keras.Input(shape=(392,), name="top")
bottom = keras.Input(shape=(392,), name="bottom")
t = keras.layers.Dense(96, activation="relu", name="top_branch")(top)
b = keras.layers.Dense(96, activation="relu", name="bottom_branch")(bottom)
merged = t + b  # an operator on KerasTensors records an Add node
h = merged + keras.layers.Dense(96, activation="relu", name="residual")(merged)
h = keras.layers.Dropout(0.1)(h)
outputs = keras.layers.Dense(10, activation="softmax", name="classes")(h)
model = keras.Model(inputs=[top, bottom], outputs=outputs, name="two_halves")

model.summary()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit([top_train, bottom_train], y_train, batch_size=64, epochs=3,
                    validation_split=0.1, verbose=2)
loss, accuracy = model.evaluate({"top": top_test, "bottom": bottom_test}, y_test, verbose=0)
print("History keys:", sorted(history.history))
print(f"Test accuracy: {accuracy:.4f}  (loss {loss:.4f})")

probs = model.predict([top_test[:5], bottom_test[:5]], verbose=0)
print("Predicted classes:", np.argmax(probs, axis=-1), "labels:", y_test[:5])

# The graph survives a config round trip.
clone = keras.Model.from_config(model.get_config())
clone.set_weights(model.get_weights())
same = np.allclose(clone.predict([top_test[:64], bottom_test[:64]], verbose=0),
                   model.predict([top_test[:64], bottom_test[:64]], verbose=0), atol=1e-6)
print("from_config(get_config()) gives the same predictions:", same)
print(f"Done in {time.time() - start:.1f} s")
