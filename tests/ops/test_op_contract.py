"""The op contract between the core and the GPU backend: every op the core has
(`_core.op_names()`, from the op table in rust/ops/mod.rs) has a GPU launcher in the webgpu
executor's tables (`KERNELS`, or `UPDATES` for in-place optimizer steps) or is on its
documented `CPU_ONLY` list, and those tables name no op the core lacks.

The test compares tables only (importing the launchers needs no GPU adapter), so it runs
everywhere: a missing GPU kernel is a failing test here, not a NotImplementedError at run time.
CONTRIBUTING.md has the recipe for adding an op and its kernel."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend.webgpu import kernels  # noqa: F401 - registers the launchers
from rskeras.backend.webgpu.executor import CPU_ONLY, KERNELS, UPDATES


def core_ops() -> set[str]:
    return set(_core.op_names())


def test_op_names_lists_each_op_once():
    names = _core.op_names()
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    # Spot checks of the ways a name comes from the table: fixed, chosen by a flag, by kind.
    for name in ("matmul", "argmax", "argmin", "softmax", "log_softmax", "add", "exp", "sum",
                 "max_pool", "average_pool", "argsort", "conv"):
        assert name in names


def test_every_core_op_has_a_gpu_kernel_or_a_documented_reason():
    missing = core_ops() - set(KERNELS) - set(UPDATES) - set(CPU_ONLY)
    assert not missing, (
        f"ops of the core with no GPU launcher: {sorted(missing)}. Register one with "
        "@kernel(name) in python/rskeras/backend/webgpu/kernels/ (see CONTRIBUTING.md), or add "
        "the op to CPU_ONLY in backend/webgpu/executor.py with the reason")


def test_the_gpu_tables_name_only_ops_of_the_core():
    unknown = (set(KERNELS) | set(UPDATES)) - core_ops()
    assert not unknown, f"GPU launchers for ops the core does not have: {sorted(unknown)}"


def test_the_cpu_only_list_is_current_and_says_why():
    assert not set(CPU_ONLY) - core_ops(), "CPU_ONLY names ops the core does not have"
    assert not set(CPU_ONLY) & (set(KERNELS) | set(UPDATES)), \
        "ops on CPU_ONLY now have a GPU launcher: take them off the list"
    for name, why in CPU_ONLY.items():
        assert isinstance(why, str) and why.strip(), f"CPU_ONLY[{name!r}] gives no reason"


def test_in_place_and_value_ops_are_not_mixed():
    assert not set(KERNELS) & set(UPDATES)
