"""`model.summary()`: the box-drawn layer table Keras prints."""

from __future__ import annotations

import math


def _size(n_params: int) -> str:
    size = n_params * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def print_summary(model, line_length=None, print_fn=None) -> None:
    """Print `Model: "name"`, one row per layer (name and type, output shape, parameter
    count) and the total / trainable / non-trainable parameter counts with their sizes."""
    print_fn = print_fn or print
    widths = [33, 24, 15]
    if line_length:
        scale = line_length / (sum(widths) + 4)
        widths = [max(8, int(w * scale)) for w in widths]
    shapes = getattr(model, "_output_shapes", None) if model.built else None
    rows = []
    for i, layer in enumerate(model.layers):
        shape = shapes[i] if shapes and i < len(shapes) else None
        params = layer.count_params() if layer.built else 0
        rows.append((f"{layer.name} ({type(layer).__name__})", _shape(shape) if layer.built else "?",
                     f"{params:,}" if layer.built else "0 (unbuilt)"))

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells, sep, align_last="right"):
        out = []
        for j, (cell, w) in enumerate(zip(cells, widths)):
            cell = cell if len(cell) <= w else cell[: w - 1] + "…"
            out.append(" " + (cell.rjust(w) if j == 2 and align_last == "right" else cell.ljust(w)) + " ")
        return sep + sep.join(out) + sep

    lines = [f'Model: "{model.name}"',
             line("┏", "┳", "┓", "━"),
             row(("Layer (type)", "Output Shape", "Param #"), "┃"),
             line("┡", "╇", "┩", "━")]
    for k, r in enumerate(rows):
        lines.append(row(r, "│"))
        if k < len(rows) - 1:
            lines.append(line("├", "┼", "┤", "─"))
    lines.append(line("└", "┴", "┘", "─"))
    weights = model.weights
    total = sum(math.prod(w.shape) for w in weights)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    lines.append(f" Total params: {total:,} ({_size(total)})")
    lines.append(f" Trainable params: {trainable:,} ({_size(trainable)})")
    lines.append(f" Non-trainable params: {total - trainable:,} ({_size(total - trainable)})")
    opt = getattr(model, "optimizer", None)
    if opt is not None and opt.built:
        n = sum(math.prod(v.shape) for v in opt.variables)
        lines.append(f" Optimizer params: {n:,} ({_size(n)})")
    print_fn("\n".join(lines))
