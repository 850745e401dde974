"""Checkpoints, saving and loading on Fashion-MNIST: the Keras program of the saving issue,
unchanged but for the import, followed by the checks it was written to make.

Run: python examples/save_and_load.py [folder]
Trains the 784-128-10 MLP for up to 5 epochs (EarlyStopping on val_loss, patience 3), with
ModelCheckpoint keeping the model of the best val_loss in best_model.h5; then saves the final
model as my_model.h5 (legacy HDF5) and my_model.keras, loads the files back and prints what it
checks: the loaded models predict exactly what the trained model predicts, and best_model.h5
reproduces the lowest val_loss of the run. The files go to `folder` (default: a new temporary
folder). Exit status 1 if a check fails. The data comes from the Keras cache
(~/.keras/datasets/fashion-mnist), Debian's `dataset-fashion-mnist` package, or a download.
"""

import os
import sys
import tempfile

import numpy as np
import rskeras as keras

folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="rskeras_save_and_load_")
os.makedirs(folder, exist_ok=True)
os.chdir(folder)

# ---- the program ------------------------------------------------------------------------------
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train.astype('float32') / 255
x_test = x_test.astype('float32') / 255
model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation='relu'),
    keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
callbacks = [
    keras.callbacks.EarlyStopping(monitor='val_loss', patience=3),
    keras.callbacks.ModelCheckpoint('best_model.h5', save_best_only=True),
]
history = model.fit(x_train, y_train, epochs=5, validation_split=0.2, callbacks=callbacks)
model.save('my_model.h5')
model.save('my_model.keras')

# ---- the checks -------------------------------------------------------------------------------
failures = []


def check(ok, message):
    print(f"[{'ok' if ok else 'FAILED'}] {message}")
    if not ok:
        failures.append(message)


print(f"\nfiles in {folder}:")
for name in ("best_model.h5", "my_model.h5", "my_model.keras"):
    print(f"  {name}: {os.path.getsize(name) / 1e6:.2f} MB")

expected = model.predict(x_test, verbose=0)
for name in ("my_model.keras", "my_model.h5"):
    loaded = keras.models.load_model(name)
    same = np.array_equal(loaded.predict(x_test, verbose=0), expected)
    check(same, f"load_model('{name}') predicts exactly what the trained model predicts "
                f"on the {len(x_test)} test images")

val_losses = history.history['val_loss']
best_epoch = int(np.argmin(val_losses))
split_at = int(len(x_train) * (1 - 0.2))  # validation_split takes the last 20%
best = keras.models.load_model('best_model.h5')
best_loss, best_accuracy = best.evaluate(x_train[split_at:], y_train[split_at:], verbose=0)
print(f"\nval_loss per epoch: {', '.join(f'{v:.6f}' for v in val_losses)}")
check(abs(best_loss - min(val_losses)) <= 1e-6,
      f"load_model('best_model.h5') is the model of epoch {best_epoch + 1}, the lowest val_loss: "
      f"evaluate on the validation split gives {best_loss:.6f}, the run logged "
      f"{min(val_losses):.6f} (difference {abs(best_loss - min(val_losses)):.1e})")

_, final_accuracy = model.evaluate(x_test, y_test, verbose=0)
_, best_test_accuracy = best.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: final model {final_accuracy:.4f}, best_model.h5 {best_test_accuracy:.4f}")

if failures:
    print(f"\n{len(failures)} check(s) failed")
    sys.exit(1)
print("\nall checks passed")
