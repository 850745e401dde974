"""Property tests: a valid saved file (`.keras`, legacy `.h5`, `.weights.h5`), damaged at
random (truncated, bytes flipped, a byte range overwritten, zip members reordered), either
loads or is refused with a ValueError that names the file; never a crash, a hang, a
MemoryError or another exception type.

Every load runs in this process, so a crash (a segfault in HDF5, an abort) kills the test
run: that is a finding. A hang is turned into one too: `faulthandler` dumps the stacks (into
hang.txt in the run's temporary folder, next to the `damaged.*` input) and exits the process
when a single load takes more than HANG_S seconds.

Where the damage provably misses what the loader reads, the load must succeed with the
original predictions (bytes of the unread metadata.json, reordered zip members, flips
inside the optimizer state's raw data); flips inside the weights' raw data must load (HDF5
keeps no checksum of raw data), with whatever numbers they make."""

from __future__ import annotations

import atexit
import faulthandler
import io
import os
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import rskeras as keras
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._hostile import MLP, fixture, keras_members, write_zip

HANG_S = 60
EXAMPLES = 200  # per test; about 5 ms a load, so the file runs in about 20 s
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_TMP = tempfile.mkdtemp(prefix="rskeras-corrupt-")
# On a hang the stacks go here (pytest captures stderr, and the process exits), and the
# input that hung is the `damaged.*` file next to it.
_HANG_LOG = open(os.path.join(_TMP, "hang.txt"), "w")  # noqa: SIM115 - lives as long as the run
atexit.register(_HANG_LOG.close)


# ---------------------------------------------------------------------------------------------
# Seeds: the Keras-written sequential_mlp fixtures, and a small model saved by rskeras


def _rskeras_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(12, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(rng.standard_normal((32, 6)).astype("float32"), rng.integers(0, 3, 32), epochs=1,
              batch_size=16, verbose=0)
    return model


class Seed:
    """One valid file: its bytes, the model to load `.weights.h5` into, its predictions."""

    def __init__(self, name, kind, data, model, x):
        self.name, self.kind, self.data, self.model, self.x = name, kind, data, model, x
        self.weights = [np.array(w) for w in model.get_weights()]
        self.expected = np.asarray(model(x))
        self.suffix = {"keras": ".keras", "h5": ".h5", "weights": ".weights.h5"}[kind]

    def __repr__(self):
        return f"Seed({self.name}{self.suffix})"


def _seeds():
    seeds = []
    mlp = keras.models.load_model(fixture(MLP + ".keras"), compile=False)
    x_mlp = np.load(fixture(MLP + ".npz"))["x"]
    for kind, suffix in (("keras", ".keras"), ("h5", ".h5"), ("weights", ".weights.h5")):
        seeds.append(Seed(MLP, kind, fixture(MLP + suffix).read_bytes(), mlp, x_mlp))
    model = _rskeras_model()
    x = np.random.default_rng(2).standard_normal((4, 6)).astype("float32")
    for kind, suffix in (("keras", ".keras"), ("h5", ".h5"), ("weights", ".weights.h5")):
        path = Path(_TMP) / ("rskeras_model" + suffix)
        if kind == "weights":
            model.save_weights(path)
        else:
            with pytest.warns(UserWarning) if kind == "h5" else _nullcontext():
                model.save(path)
        seeds.append(Seed("rskeras_model", kind, path.read_bytes(), model, x))
    return seeds


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


SEEDS = _seeds()
BY_KIND = {kind: [s for s in SEEDS if s.kind == kind] for kind in ("keras", "h5", "weights")}


# ---------------------------------------------------------------------------------------------
# Loading one damaged file


def load_outcome(seed: Seed, data: bytes):
    """("ok", predictions) or ("refused", message). Anything else raised propagates."""
    path = os.path.join(_TMP, "damaged" + seed.suffix)
    with open(path, "wb") as f:
        f.write(data)
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=_HANG_LOG)
    try:
        if seed.kind == "weights":
            model = seed.model
            model.set_weights(seed.weights)
            model.load_weights(path)
        else:
            model = keras.models.load_model(path)
        out = model(seed.x)
        out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
    except ValueError as e:
        assert os.path.basename(path) in str(e), f"the message does not name the file: {e}"
        return "refused", str(e)
    finally:
        faulthandler.cancel_dump_traceback_later()
        if seed.kind == "weights":
            seed.model.set_weights(seed.weights)
    assert out.shape == seed.expected.shape
    return "ok", out


def assert_original(seed, outcome):
    status, value = outcome
    assert status == "ok", value
    np.testing.assert_array_equal(value, seed.expected)


# ---------------------------------------------------------------------------------------------
# Strategies


seeds = st.sampled_from(SEEDS)


@st.composite
def truncated(draw, seed):
    return seed.data[:draw(st.integers(0, len(seed.data) - 1))]


@st.composite
def flipped(draw, seed, ranges=None):
    """1 to 16 bytes XORed with a non-zero mask, anywhere or inside `ranges`."""
    data = bytearray(seed.data)
    ranges = ranges or [(0, len(data))]
    positions = set()
    for _ in range(draw(st.integers(1, 16))):
        start, end = draw(st.sampled_from(ranges))
        positions.add(draw(st.integers(start, end - 1)))
    for i in sorted(positions):  # each byte once, so no two flips cancel
        data[i] ^= draw(st.integers(1, 255))
    return bytes(data)


@st.composite
def overwritten(draw, seed):
    """A range overwritten by random bytes, or by a run of 0x00 / 0xFF."""
    data = bytearray(seed.data)
    start = draw(st.integers(0, len(data) - 1))
    if draw(st.booleans()):
        patch = draw(st.binary(min_size=1, max_size=512))
    else:
        patch = draw(st.sampled_from([b"\0", b"\xff"])) * draw(st.integers(1, 4096))
    data[start:start + len(patch)] = patch[:len(data) - start]
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Any damage: loads, or a ValueError naming the file


@pytest.mark.parametrize("damaged", [truncated, flipped, overwritten], ids=lambda f: f.__name__)
@SETTINGS
@given(st.data())
def test_damaged(damaged, data):
    seed = data.draw(seeds)
    load_outcome(seed, data.draw(damaged(seed)))


@SETTINGS
@given(st.data())
def test_junk_appended_or_prepended(data):
    seed = data.draw(seeds)
    junk = data.draw(st.binary(min_size=1, max_size=256))
    if data.draw(st.booleans()):
        outcome = load_outcome(seed, seed.data + junk)
        if seed.kind != "keras":  # HDF5 ignores bytes past its end-of-allocation
            assert_original(seed, outcome)
    else:
        load_outcome(seed, junk + seed.data)


@pytest.mark.parametrize("seed", SEEDS, ids=repr)
def test_every_truncation_point_of_the_headers(seed):
    """Every cut in the first and last 2 KiB (headers, superblock, zip directory)."""
    n = len(seed.data)
    for cut in sorted(set(range(0, min(n, 2048), 7)) | set(range(max(0, n - 2048), n, 7))):
        load_outcome(seed, seed.data[:cut])


# ---------------------------------------------------------------------------------------------
# Damage the loader provably does not read, or only reads as numbers


def _zip_member_ranges(data: bytes) -> dict[str, tuple[int, int]]:
    """{member: (start, end)} of each member's stored bytes in the archive."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            start = info.header_offset
            name_len = int.from_bytes(data[start + 26:start + 28], "little")
            extra_len = int.from_bytes(data[start + 28:start + 30], "little")
            begin = start + 30 + name_len + extra_len
            out[info.filename] = (begin, begin + info.compress_size)
    return out


def _dataset_ranges(data: bytes, base: int = 0, prefix=""):
    """{dataset name: (start, end)} of the raw data of each contiguous dataset under
    `prefix` in the HDF5 bytes `data` (offset by `base`)."""
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.startswith(prefix) and obj.chunks is None:
                offset, size = obj.id.get_offset(), obj.id.get_storage_size()
                if offset is not None and size:
                    out[name] = (base + offset, base + offset + size)
        f.visititems(visit)
    return out


@SETTINGS
@given(st.data())
def test_unread_metadata_member_damage_is_harmless(data):
    """load_model never reads metadata.json: flips there change nothing."""
    seed = data.draw(st.sampled_from(BY_KIND["keras"]))
    begin, end = _zip_member_ranges(seed.data)["metadata.json"]
    assert_original(seed, load_outcome(seed, data.draw(flipped(seed, [(begin, end)]))))


@SETTINGS
@given(st.data())
def test_reordered_zip_members_load_the_same(data):
    seed = data.draw(st.sampled_from(BY_KIND["keras"]))
    members = list(keras_members(io.BytesIO(seed.data)).items())
    order = data.draw(st.permutations(members))
    deflate = data.draw(st.booleans())
    buffer = io.BytesIO()
    write_zip(buffer, order, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    assert_original(seed, load_outcome(seed, buffer.getvalue()))


def _raw_ranges(seed, prefix):
    if seed.kind == "weights":
        return _dataset_ranges(seed.data, 0, prefix["weights"])
    return _dataset_ranges(seed.data, 0, prefix["h5"])


@SETTINGS
@given(st.data())
def test_flips_in_weight_data_load(data):
    """HDF5 keeps no checksum of raw data: flipped weight bytes load, as (any) numbers."""
    seed = data.draw(st.sampled_from(BY_KIND["h5"] + BY_KIND["weights"]))
    ranges = list(_raw_ranges(seed, {"weights": "layers/", "h5": "model_weights/"}).values())
    status, value = load_outcome(seed, data.draw(flipped(seed, ranges)))
    assert status == "ok", value


@SETTINGS
@given(st.data())
def test_flips_in_optimizer_state_leave_predictions(data):
    seed = data.draw(st.sampled_from(BY_KIND["h5"] + [s for s in BY_KIND["weights"]
                                                      if s.name == "rskeras_model"]))
    ranges = list(_raw_ranges(seed, {"weights": "optimizer/", "h5": "optimizer_weights/"}).values())
    if not ranges:
        return
    damaged = data.draw(flipped(seed, ranges))
    if seed.kind == "weights":
        # The optimizer of a compiled model reads them; predictions do not depend on them.
        status, value = load_outcome(seed, damaged)
        assert status == "ok", value
        np.testing.assert_array_equal(value, seed.expected)
    else:
        assert_original(seed, load_outcome(seed, damaged))


@SETTINGS
@given(st.data())
def test_flips_in_a_keras_archive_weights_are_caught_by_the_crc(data):
    seed = data.draw(st.sampled_from(BY_KIND["keras"]))
    begin, end = _zip_member_ranges(seed.data)["model.weights.h5"]
    status, value = load_outcome(seed, data.draw(flipped(seed, [(begin, end)])))
    assert status == "refused" and ("Bad CRC" in value or "corrupted" in value), value
