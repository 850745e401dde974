"""The Keras convnet example on Fashion-MNIST, unchanged but for the import.

Run: python examples/fashion_mnist_cnn.py
Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Flatten ->
Dropout(0.5) -> Dense(10, softmax); Adam, batch 64, 3 epochs; prints the test accuracy:
0.873 here, where Keras 3 on JAX gives 0.875 for the same program (0.878 without the
validation split). About 80 s on 2 cores. Data as in fashion_mnist_mlp.py."""

import rskeras as keras

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train.astype("float32")[..., None] / 255  # (60000, 28, 28, 1)
x_test = x_test.astype("float32")[..., None] / 255
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),
    keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),
    keras.layers.Flatten(),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
])
model.summary()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", accuracy)
