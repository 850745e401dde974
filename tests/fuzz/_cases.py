"""Hostile-input cases as JSON: how they are written, rebuilt and shown as one-line repros.

A case is `{"op": name, "args": [...], "kwargs": {...}, "big": bool}`; it travels to the
worker (tests/fuzz/_op_worker.py) on stdin, so every value in it is plain JSON, with a few
tagged objects for what JSON cannot hold:

  {"$tuple": [...]}                   a tuple (shapes, axes)
  {"$arr": {...}}                     a NumPy array: dtype, logical shape, values, memory layout
  {"$np": [dtype, value]}             a NumPy scalar such as np.float16(1.5)
  {"$tensor": {"$arr": ...}, "view"}  an rskeras tensor made from that array (maybe a view of one)
  {"$slice": [start, stop, step]}     a slice (get_item keys)
  {"$special": name}                  another Python object (SPECIALS: Ellipsis, bytes, a dict...)

`decode(obj)` rebuilds the Python value (arrays for the NumPy reference too); `render(obj)`
writes the same value as Python source, so that `repro(case)` is one line to paste after
`import numpy as np, rskeras; from rskeras import ops`.

Array layouts (the logical values are the same whatever the layout):
  C         np.array(values).reshape(shape)
  F         Fortran order
  T         the transpose of a C array of the reversed shape (a non-contiguous view)
  step      every other element of an array twice as long on the last axis
  neg       a view with a negative stride on axis 0
  be        big-endian (`.astype('>f4')`)
  ro        a read-only view
  bcast     a zero-stride view broadcast along axis 0 (values are those of row 0)
  huge      `np.broadcast_to(values, target)`: a zero-stride view of absurd size (2**40...)
"""

from __future__ import annotations

import math

import numpy as np

# Arrays with more elements than this are filled from a palette with a seeded generator
# (so that a case stays small and its repro one line).
EXPLICIT_MAX = 24

SPECIALS = {
    "ellipsis": (Ellipsis, "Ellipsis"),
    "bytes": (b"\x00\x01", "b'\\x00\\x01'"),
    "dict": ({"a": 1}, "{'a': 1}"),
    "set": ({1, 2}, "{1, 2}"),
    "object": (object(), "object()"),
    "complex": (1 + 2j, "(1+2j)"),
    "nan": (float("nan"), "float('nan')"),
    "inf": (float("inf"), "float('inf')"),
    "-inf": (float("-inf"), "float('-inf')"),
    "np.float32": (np.float32, "np.float32"),
    "np.dtype.float32": (np.dtype("float32"), "np.dtype('float32')"),
    "bigint": (2**100, "2**100"),
}


def tup(*items):
    return {"$tuple": list(items)}


def special(name):
    return {"$special": name}


def slc(start=None, stop=None, step=None):
    return {"$slice": [start, stop, step]}


def is_tagged(obj, tag):
    return isinstance(obj, dict) and tag in obj


# ---------------------------------------------------------------------------------------------
# Arrays


def _shape_size(shape):
    return math.prod(shape) if shape else 1


def _fill_shape(a):
    """The shape whose values the spec lists (row 0 only for a zero-stride `bcast` view)."""
    if a["layout"] == "bcast" and a["shape"]:
        return [1] + list(a["shape"][1:])
    return list(a["shape"])


def _value(v, kind):
    if kind == "c":
        return complex(v[0], v[1])
    return v


def _values_array(values, dt):
    """A 1-d array of dtype `dt` holding `values` (as the spec writes them)."""
    vals = [_value(v, dt.kind) for v in values]
    if dt.kind == "O":
        out = np.empty(len(vals), dtype=object)
        out[:] = vals
        return out
    return np.array(vals, dtype=dt)


def build_array(a):
    """The NumPy array an `$arr` spec describes."""
    dt = np.dtype(a["dtype"])
    fill = _fill_shape(a)
    with np.errstate(all="ignore"):
        if a.get("values") is not None:
            base = _values_array(a["values"], dt)
        else:
            palette = _values_array(a["pal"], dt)
            rng = np.random.default_rng(a["seed"])
            base = palette[rng.integers(0, len(palette), size=_shape_size(fill))]
        x = base.reshape(fill)
    return _apply_layout(x, a)


def _apply_layout(x, a):
    layout = a["layout"]
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "T" and x.ndim >= 2:
        return np.ascontiguousarray(x.T).T
    if layout == "step" and x.ndim >= 1:
        return np.repeat(x, 2, axis=-1)[..., ::2]
    if layout == "neg" and x.ndim >= 1:
        return x[::-1].copy()[::-1]
    if layout == "be":
        return x.astype(x.dtype.newbyteorder(">"))
    if layout == "ro":
        return np.lib.stride_tricks.as_strided(x, writeable=False)
    if layout == "bcast":
        return np.broadcast_to(x, a["shape"])
    if layout == "huge":
        return np.broadcast_to(x, a["target"])
    return x


def _render_scalar(v, kind):
    if kind == "c":
        return f"complex({_render_float(v[0])}, {_render_float(v[1])})"
    if isinstance(v, float):
        return _render_float(v)
    return repr(v)


def _render_float(v):
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def render_array(a):
    dt = np.dtype(a["dtype"])
    fill = _fill_shape(a)
    dts = repr(dt.name if dt.kind not in "UO" else dt.str if dt.kind == "U" else "object")
    if a.get("values") is not None:
        body = "[" + ", ".join(_render_scalar(v, dt.kind) for v in a["values"]) + "]"
        src = f"np.array({body}, {dts})"
    else:
        pal = "[" + ", ".join(_render_scalar(v, dt.kind) for v in a["pal"]) + "]"
        n = _shape_size(fill)
        src = f"np.array({pal}, {dts})[np.random.default_rng({a['seed']}).integers(0, {len(a['pal'])}, size={n})]"
    if len(fill) != 1 or a.get("values") is None or len(a["values"]) != fill[0]:
        src = f"{src}.reshape({tuple(fill)})"
    layout, nd = a["layout"], len(fill)
    if layout == "F":
        return f"np.asfortranarray({src})"
    if layout == "T" and nd >= 2:
        return f"np.ascontiguousarray({src}.T).T"
    if layout == "step" and nd >= 1:
        return f"np.repeat({src}, 2, axis=-1)[..., ::2]"
    if layout == "neg" and nd >= 1:
        return f"{src}[::-1].copy()[::-1]"
    if layout == "be" and dt.itemsize > 1 and dt.kind not in "OU":
        return f"{src}.astype({dt.newbyteorder('>').str!r})"
    if layout == "ro":
        return f"np.lib.stride_tricks.as_strided({src}, writeable=False)"
    if layout == "bcast":
        return f"np.broadcast_to({src}, {tuple(a['shape'])})"
    if layout == "huge":
        return f"np.broadcast_to({src}, {tuple(a['target'])})"
    return src


# ---------------------------------------------------------------------------------------------
# Decoding and rendering any value


def decode(obj, tensors=True):
    """The Python value of an encoded argument. `tensors=False` (the NumPy reference) keeps
    tensors as the NumPy arrays they are made from."""
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "$tuple" in obj:
        return tuple(decode(v, tensors) for v in obj["$tuple"])
    if "$arr" in obj:
        return build_array(obj["$arr"])
    if "$np" in obj:
        dt, v = obj["$np"]
        with np.errstate(all="ignore"):
            return np.dtype(dt).type(v)
    if "$tensor" in obj:
        arr = build_array(obj["$tensor"]["$arr"])
        if not tensors:
            return arr
        from rskeras import ops

        view = obj.get("view", "C")
        if view == "T" and arr.ndim >= 2:
            return ops.transpose(ops.convert_to_tensor(np.ascontiguousarray(arr.T)))
        if view == "step" and arr.ndim >= 1:
            return ops.convert_to_tensor(np.repeat(arr, 2, axis=-1))[..., ::2]
        return ops.convert_to_tensor(arr)
    if "$slice" in obj:
        return slice(*obj["$slice"])
    if "$special" in obj:
        return SPECIALS[obj["$special"]][0]
    return {k: decode(v, tensors) for k, v in obj.items()}


def render(obj):
    if isinstance(obj, list):
        return "[" + ", ".join(render(v) for v in obj) + "]"
    if isinstance(obj, float):
        return _render_float(obj).replace("np.nan", "float('nan')").replace("np.inf", "float('inf')")
    if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= 2**31 and _pow2(obj):
        return ("-" if obj < 0 else "") + f"2**{abs(obj).bit_length() - 1}"
    if not isinstance(obj, dict):
        return repr(obj)
    if "$tuple" in obj:
        items = [render(v) for v in obj["$tuple"]]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if "$arr" in obj:
        return render_array(obj["$arr"])
    if "$np" in obj:
        dt, v = obj["$np"]
        return f"np.{np.dtype(dt).name}({_render_scalar(v, np.dtype(dt).kind)})"
    if "$tensor" in obj:
        src = render_array(obj["$tensor"]["$arr"])
        view = obj.get("view", "C")
        if view == "T":
            return f"ops.transpose(ops.convert_to_tensor(np.ascontiguousarray(({src}).T)))"
        if view == "step":
            return f"ops.convert_to_tensor(np.repeat({src}, 2, axis=-1))[..., ::2]"
        return f"ops.convert_to_tensor({src})"
    if "$slice" in obj:
        a, b, c = (render(v) for v in obj["$slice"])
        return f"slice({a}, {b}, {c})"
    if "$special" in obj:
        return SPECIALS[obj["$special"]][1]
    return "{" + ", ".join(f"{k!r}: {render(v)}" for k, v in obj.items()) + "}"


def _pow2(v):
    v = abs(v)
    return v & (v - 1) == 0


def repro(case, call_prefix="ops."):
    """One line of Python that makes the same call."""
    args = [render(a) for a in case["args"]]
    args += [f"{k}={render(v)}" for k, v in case["kwargs"].items()]
    template = case.get("template")
    if template:
        return template.format(*args)
    op = case["op"]
    prefix = "rskeras." if op.startswith("random.") else call_prefix
    return f"{prefix}{op}({', '.join(args)})"
