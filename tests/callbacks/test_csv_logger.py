"""`keras.callbacks.CSVLogger` against Keras 3 (keras/src/callbacks/csv_logger.py): the header
(epoch, then the sorted log names, with val_ columns added when there is no validation), one
row per epoch holding the logs' values, "\\r\\n" line ends, the separator, and append."""

from __future__ import annotations

import csv

import numpy as np
import rskeras as keras

from tests.callbacks._helpers import make_data, make_model


def read(path):
    with open(path, newline="") as f:
        return f.read()


def rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_columns_and_values_with_validation(tmp_path):
    path = tmp_path / "log.csv"
    x, y = make_data()
    vx, vy = make_data(16, seed=3)
    model = make_model()
    history = model.fit(x, y, batch_size=16, epochs=3, validation_data=(vx, vy), verbose=0,
                        callbacks=[keras.callbacks.CSVLogger(path)])
    text = read(path)
    assert text.startswith("epoch,accuracy,loss,val_accuracy,val_loss\r\n")
    assert text.count("\r\n") == 4
    table = rows(path)
    assert [r[0] for r in table[1:]] == ["0", "1", "2"]
    for name in ("accuracy", "loss", "val_accuracy", "val_loss"):
        col = table[0].index(name)
        # written with str(float): read back, the very same floats
        assert [float(r[col]) for r in table[1:]] == history.history[name]


def test_without_validation_val_columns_are_na(tmp_path):
    path = tmp_path / "log.csv"
    x, y = make_data()
    model = make_model()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(str(path))])
    table = rows(path)
    assert table[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert table[1][3:] == ["NA", "NA"] and table[2][3:] == ["NA", "NA"]
    assert float(table[2][2]) == history.history["loss"][1]


def test_learning_rate_column_and_separator(tmp_path):
    path = tmp_path / "log.tsv"
    x, y = make_data()
    model = make_model(metrics=())
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 0.5 ** (e + 1)),
                         keras.callbacks.CSVLogger(path, separator="\t")])
    table = rows(path, "\t")
    assert table[0] == ["epoch", "learning_rate", "loss", "val_learning_rate", "val_loss"]
    assert [r[1] for r in table[1:]] == ["0.5", "0.25"]


def test_append(tmp_path):
    path = tmp_path / "log.csv"
    x, y = make_data()
    model = make_model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(path)])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(path, append=True)])
    table = rows(path)
    assert len(table) == 5 and table[0][0] == "epoch"
    assert [r[0] for r in table[1:]] == ["0", "1", "0", "1"]
    # without append the file starts over
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[keras.callbacks.CSVLogger(path)])
    assert len(rows(path)) == 2


def test_append_to_an_empty_file_writes_the_header(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("")
    x, y = make_data()
    make_model().fit(x, y, batch_size=16, epochs=1, verbose=0,
                     callbacks=[keras.callbacks.CSVLogger(path, append=True)])
    assert rows(path)[0][0] == "epoch"


def test_iterable_and_string_values(tmp_path):
    path = tmp_path / "log.csv"
    logger = keras.callbacks.CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "vec": np.array([1, 2]), "name": "a", "zero_dim": np.float32(2.0)})
    logger.on_train_end()
    assert read(path) == ('epoch,loss,name,vec,zero_dim,val_loss,val_name,val_vec,val_zero_dim\r\n'
                          '0,0.5,a,"""[1, 2]""",2.0,NA,NA,NA,NA\r\n')


def test_file_closed_after_training(tmp_path):
    path = tmp_path / "log.csv"
    logger = keras.callbacks.CSVLogger(path)
    x, y = make_data()
    make_model().fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger])
    assert logger.csv_file.closed


def test_rows_stop_with_training(tmp_path):
    path = tmp_path / "log.csv"
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(0.0))
    model.fit(x, y, batch_size=16, epochs=10, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=0),
                         keras.callbacks.CSVLogger(path)])
    assert [r[0] for r in rows(path)[1:]] == ["0", "1"]
