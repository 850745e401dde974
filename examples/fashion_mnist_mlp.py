"""The canonical Keras Fashion-MNIST example, unchanged but for the import.

Run: python examples/fashion_mnist_mlp.py
Trains a 784-128-10 MLP for 5 epochs (batch 32, Adam) and prints the test accuracy
(about 0.87-0.88). The data comes from the Keras cache (~/.keras/datasets/fashion-mnist),
Debian's `dataset-fashion-mnist` package, or a download."""

import rskeras as keras

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation='relu'),
    keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
loss, accuracy = model.evaluate(x_test, y_test)
print('Test accuracy:', accuracy)
probs = model.predict(x_test[:5])
