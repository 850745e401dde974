"""The architecture's never-rules (ARCHITECTURE.md), read from the source's imports: every
`import` and `from ... import` of an `rskeras` module, at module level or inside a function,
is an edge between the top-level packages of `python/rskeras` (`ops`, `layers`, ...)."""

from __future__ import annotations

import ast
import collections
import pathlib
import subprocess
import sys

import rskeras

PACKAGE = pathlib.Path(rskeras.__file__).parent


def _package_imports() -> dict:
    """package -> {imported package: [files that import it]}"""
    edges: dict = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else "__init__"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = ([f"rskeras.{a.name}" for a in node.names] if node.module == "rskeras"
                         else [node.module])
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "rskeras" and len(parts) > 1 and parts[1] != src:
                    edges[src][parts[1]].append(str(rel))
    return edges


def _cycles(edges) -> list:
    """Strongly connected components of more than one package (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_packages():
    assert _cycles(_package_imports()) == []


def test_the_reader_finds_imports_inside_functions():
    edges = _package_imports()
    assert "saving" in edges["layers"]  # layer.py: get_config of nested objects
    assert "ops" in edges["layers"]


def test_ops_never_import_layers_or_models():
    edges = _package_imports()
    allowed = {"_core", "backend"}
    assert {k: v for k, v in edges["ops"].items() if k not in allowed} == {}


def test_backend_imports_nothing_above_it():
    edges = _package_imports()
    assert {k: v for k, v in edges["backend"].items() if k != "_core"} == {}


def test_importing_rskeras_never_imports_wgpu_or_optional_extras():
    code = ("import sys, rskeras, rskeras.ops; "
            "print(sorted(m for m in ('wgpu', 'h5py', 'PIL', 'sklearn', 'tensorboardX', 'keras', 'jax') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_rskeras_does_not_import_numpy_or_urllib():
    """Each costs more than the rest of `import rskeras`: modules reach NumPy through
    `rskeras.backend.lazy_numpy.np` or a local import, and urllib.request (RemoteMonitor)
    locally, so they load on first use."""
    code = ("import sys, rskeras; "
            "print(sorted(m for m in ('numpy', 'urllib.request') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
