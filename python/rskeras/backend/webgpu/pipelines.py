"""WGSL sources and the compiled-pipeline cache.

A shader family lives in `shaders/<family>.wgsl`, one per Rust op family (`rust/ops/nn.rs` ->
`shaders/nn.wgsl`, entry points named as the ops), with `shaders/prelude.wgsl` (helpers every
kernel uses: `flat_index`, `is_nan_f32`) prepended. Templates carry `{{NAME}}` placeholders
(element types, the expression of an element-wise op, workgroup size) that `specialize`
fills; each distinct specialization compiles once and is cached by (family, entry point,
substitutions).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# A checkout keeps the shaders beside the package; installed wheels carry them in `_core`.
_CHECKOUT = Path(__file__).resolve().parents[4] / "shaders"
_sources: dict[str, str] = {}
PRELUDE = "prelude"  # shaders/prelude.wgsl, prepended to every family


def source(family: str) -> str:
    """The WGSL text of `shaders/<family>.wgsl` (from RSKERAS_SHADER_DIR, the checkout, or
    the copy compiled into the extension, in that order)."""
    text = _sources.get(family)
    if text is None:
        for folder in (os.environ.get("RSKERAS_SHADER_DIR"), _CHECKOUT):
            path = Path(folder) / f"{family}.wgsl" if folder else None
            if path is not None and path.is_file():
                text = path.read_text()
                break
        else:
            from rskeras import _core

            text = _core.shader_source(family)
        _sources[family] = text
    return text


def specialize(text: str, subs: dict) -> str:
    """`text` with every `{{KEY}}` replaced by `subs[KEY]`.

    Raises:
        KeyError: naming a placeholder that `subs` does not fill.
    """
    def fill(m):
        key = m.group(1)
        if key not in subs:
            raise KeyError(f"shader placeholder {{{{{key}}}}} has no value")
        return str(subs[key])

    return re.sub(r"\{\{(\w+)\}\}", fill, text)


class PipelineCache:
    """Compiled compute pipelines keyed by shader family, entry point and specialization."""

    def __init__(self, device):
        self.device = device
        self.cache: dict = {}
        self._layouts: dict = {}  # id(pipeline) -> its bind group layout

    def get(self, family: str, entry: str = "main", **subs):
        key = (family, entry, tuple(sorted(subs.items())))
        pipe = self.cache.get(key)
        if pipe is None:
            code = specialize(source(PRELUDE) + "\n" + source(family), subs)
            module = self.device.create_shader_module(label=f"{family}.{entry}", code=code)
            pipe = self.device.create_compute_pipeline(
                label=f"{family}.{entry}", layout="auto",
                compute={"module": module, "entry_point": entry})
            self.cache[key] = pipe
        return pipe

    def layout(self, pipe):
        """`pipe`'s bind group layout 0 (looked up once per pipeline)."""
        layout = self._layouts.get(id(pipe))
        if layout is None:
            layout = self._layouts[id(pipe)] = pipe.get_bind_group_layout(0)
        return layout
