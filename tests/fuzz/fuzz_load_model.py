"""Coverage-guided fuzzing of `keras.models.load_model` and `model.load_weights` on mutated
`.keras`, legacy `.h5` and `.weights.h5` files, with atheris (libFuzzer for Python).

Usage (from the repository root, in the dev environment)::

    pip install atheris
    python tests/fuzz/fuzz_load_model.py -atheris_runs=100000 [-max_total_time=2400] \\
        [-timeout=30] [-rss_limit_mb=2048] [-artifact_prefix=DIR/] [CORPUS_DIR ...]

Without a CORPUS_DIR the script makes one in the temporary folder and copies the seeds into
it: the Keras-written fixtures in tests/fixtures/saving (`*.keras`, `*.h5`, `*.weights.h5`)
and the same model saved by rskeras in each format. A given CORPUS_DIR that is empty is
seeded the same way. Findings go to `-artifact_prefix` (default: a `rskeras-fuzz-findings/`
folder in the temporary folder, printed at the start).

An input is one byte that picks what to do, then the file's bytes: `data[0] % 5` picks
one of MODES (`load_model` of a .keras or .h5 file, `load_weights` of a .weights.h5, .h5
or .keras file) and, for `load_weights`, `data[0] // 5` picks the model the weights are
loaded into (WEIGHT_MODELS). The rest is written to a temporary file with that extension
(on /dev/shm when there is one) and loaded in this process.

Expected outcomes: the load succeeds, or raises ValueError (a bad file) or OSError (the
file system). Anything else propagates, and libFuzzer reports it as a crash and writes the
input to `crash-<sha1>`; so do a segfault or abort in HDF5, a hang past `-timeout` seconds
(`timeout-<sha1>`) and memory past `-rss_limit_mb` (`oom-<sha1>`). libFuzzer checks memory
once a second and blames the input running then; so the harness also raises MemoryGrowth
(a crash, pinned on the right input) when one input raises the process's peak memory by
more than RSKERAS_FUZZ_MAX_GROWTH_MB (default 256). Replay one input with::

    python tests/fuzz/fuzz_load_model.py CRASH_FILE

`test_one_input` is importable without atheris (tests/fuzz/test_fuzz_harness_smoke.py runs
it over the seed corpus so that the harness cannot rot).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "saving"
SUFFIXES = (".keras", ".h5", ".weights.h5")
# (extension, function) for each value of data[0] % len(MODES).
MODES = (
    (".keras", "load_model"),
    (".h5", "load_model"),
    (".weights.h5", "load_weights"),
    (".h5", "load_weights"),
    (".keras", "load_weights"),
)
# Models that `.weights.h5` inputs are loaded into (the fixtures' architectures).
WEIGHT_MODELS = ("sequential_mlp", "cnn_batchnorm", "functional_two_in_two_out", "nested", "rskeras_model")

_state: dict = {}
MAX_GROWTH_MB = int(os.environ.get("RSKERAS_FUZZ_MAX_GROWTH_MB", "256"))


class MemoryGrowth(Exception):
    """One input made the process's peak memory grow by more than MAX_GROWTH_MB."""


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 0.0
    scale = 1 / (1 << 20) if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _workdir() -> str:
    if "dir" not in _state:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _state["dir"] = tempfile.mkdtemp(prefix="rskeras-fuzz-", dir=base)
    return _state["dir"]


def _rskeras_model():
    """A small model with a few layer kinds, saved by rskeras (compiled, one step trained)."""
    import numpy as np
    import rskeras as keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, activation="tanh")(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(2)(x)
    model = keras.Model(inputs, outputs, name="rskeras_model")
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(3)
    model.fit(
        rng.standard_normal((8, 6, 6, 2)).astype("float32"),
        rng.standard_normal((8, 2)).astype("float32"),
        epochs=1,
        verbose=0,
    )
    return model


def _models():
    """The models `.weights.h5` inputs are loaded into, made once."""
    if "models" not in _state:
        import rskeras as keras

        models = []
        for case in WEIGHT_MODELS:
            if case == "rskeras_model":
                models.append(_rskeras_saved()[1])
            else:
                models.append(keras.models.load_model(FIXTURES / f"{case}.keras"))
        _state["models"] = models
    return _state["models"]


def _rskeras_saved():
    """({suffix: bytes}, model) of the rskeras-saved seed model."""
    if "rskeras_saved" not in _state:
        model = _rskeras_model()
        folder = tempfile.mkdtemp(prefix="rskeras-fuzz-seed-")
        files = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for suffix in SUFFIXES:
                path = os.path.join(folder, "rskeras_model" + suffix)
                if suffix == ".weights.h5":
                    model.save_weights(path)
                else:
                    model.save(path)
                with open(path, "rb") as f:
                    files[suffix] = f.read()
                os.unlink(path)
        os.rmdir(folder)
        _state["rskeras_saved"] = (files, model)
    return _state["rskeras_saved"]


def kind_byte(suffix: str, model: str | None = None) -> int:
    """The first byte of an input that loads its rest as `suffix`: with `load_model`, or
    with `load_weights` into `model` when one is given."""
    if model is None:
        return MODES.index((suffix, "load_model"))
    return MODES.index((suffix, "load_weights")) + len(MODES) * WEIGHT_MODELS.index(model)


def _suffix_of(name: str) -> str | None:
    for suffix in (".weights.h5", ".keras", ".h5"):
        if name.endswith(suffix):
            return suffix
    return None


def seed_inputs() -> dict[str, bytes]:
    """{name: input} of the seed corpus: every fixture file of a loadable kind, and the
    rskeras-saved model in each format, behind kind bytes: `.keras` and `.h5` files for
    `load_model`, and every file of a WEIGHT_MODELS case for `load_weights` into it."""
    files = {path.name: path.read_bytes() for path in sorted(FIXTURES.iterdir()) if _suffix_of(path.name) is not None}
    saved, _ = _rskeras_saved()
    files.update({"rskeras_model" + suffix: data for suffix, data in saved.items()})
    seeds = {}
    for name, data in files.items():
        suffix = _suffix_of(name)
        case = name[: -len(suffix)]
        if suffix != ".weights.h5":
            seeds[f"seed-{name}"] = bytes([kind_byte(suffix)]) + data
        if case in WEIGHT_MODELS:
            seeds[f"seed-weights-{name}"] = bytes([kind_byte(suffix, case)]) + data
    return seeds


def test_one_input(data: bytes) -> None:
    """Load `data[1:]` as the kind of file `data[0]` picks. Returns on success, ValueError
    or OSError; anything else propagates (a finding)."""
    if not data:
        return
    import rskeras as keras

    suffix, function = MODES[data[0] % len(MODES)]
    path = os.path.join(_workdir(), "input" + suffix)
    with open(path, "wb") as f:
        f.write(data[1:])
    before = _peak_rss_mb()
    try:
        _load(keras, function, path, data[0])
    finally:
        grown = _peak_rss_mb() - before
    if grown > MAX_GROWTH_MB:
        raise MemoryGrowth(f"loading this {suffix} input ({function}) raised the peak memory by {grown:.0f} MB")


def _load(keras, function, path, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if function == "load_weights":
                models = _models()
                models[(kind // len(MODES)) % len(models)].load_weights(path)
            else:
                keras.models.load_model(path)
        except (ValueError, OSError):
            pass


def _with_default(argv, flag, value):
    if not any(a.startswith(flag + "=") for a in argv[1:]):
        argv.append(f"{flag}={value}")


def main(argv=None) -> None:
    import atheris

    argv = list(sys.argv if argv is None else argv)
    with atheris.instrument_imports(include=["rskeras.saving", "rskeras.models", "zipfile"]):
        import zipfile  # noqa: F401 - instrumented when not already imported

        import rskeras  # noqa: F401
        import rskeras.saving.h5_store  # noqa: F401
        import rskeras.saving.legacy_h5_format  # noqa: F401
        import rskeras.saving.saving_api  # noqa: F401
        import rskeras.saving.saving_lib  # noqa: F401
        import rskeras.saving.serialization_lib  # noqa: F401

    paths = [a for a in argv[1:] if not a.startswith("-")]
    replay = len(paths) == 1 and os.path.isfile(paths[0])
    if not replay:
        if not paths:
            corpus = tempfile.mkdtemp(prefix="rskeras-fuzz-corpus-")
            argv.append(corpus)
            paths = [corpus]
        corpus = paths[0]
        os.makedirs(corpus, exist_ok=True)
        if not os.listdir(corpus):
            for name, data in seed_inputs().items():
                with open(os.path.join(corpus, name), "wb") as f:
                    f.write(data)
        findings = os.path.join(tempfile.gettempdir(), "rskeras-fuzz-findings") + os.sep
        given = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("-artifact_prefix=")]
        if given:
            findings = given[-1]
        else:
            os.makedirs(findings, exist_ok=True)
            argv.append(f"-artifact_prefix={findings}")
        _with_default(argv, "-timeout", 30)
        _with_default(argv, "-rss_limit_mb", 2048)
        print(f"rskeras fuzz: corpus {corpus}, findings {findings}, inputs in {_workdir()}", flush=True)
    _models()  # build before fuzzing starts, so the first executions are not slow
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
