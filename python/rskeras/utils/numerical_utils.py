"""`to_categorical` and `normalize`, as in `keras.utils`."""



def to_categorical(x, num_classes=None):
    """One-hot encode integer labels: `(n,)` -> `(n, num_classes)` float32.

    Raises:
        ValueError: for negative labels or labels >= num_classes.
    """
    import numpy as np
    x = np.asarray(x, dtype="int64")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {x.min()}")
    num_classes = int(x.max()) + 1 if num_classes is None else num_classes
    if x.size and x.max() >= num_classes:
        raise ValueError(f"to_categorical: label {x.max()} is >= num_classes={num_classes}")
    out = np.zeros(x.shape + (num_classes,), dtype="float32")
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero vectors stay zero)."""
    import numpy as np
    x = np.asarray(x, dtype="float32")
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)
