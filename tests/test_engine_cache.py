"""Engine cache: keys, atomic store, and rejection of damaged or foreign engines (no TensorRT needed)."""
import json

import pytest

from rtstyle.export.cache import EngineCache, engine_key, key_parts

PARTS = dict(
    onnx_sha256="ab" * 32,
    profile={"image": [[1, 3, 32, 32], [1, 3, 720, 1280], [1, 3, 1920, 1920]]},
    gpu_name="NVIDIA H100 80GB HBM3",
    compute_capability=(9, 0),
    trt_version="10.3.0",
    precision="fp16",
)
CHANGED = dict(
    onnx_sha256="cd" * 32,
    profile={"image": [[1, 3, 32, 32], [1, 3, 720, 1280], [1, 3, 1080, 1920]]},
    gpu_name="NVIDIA GeForce GTX 1060",
    compute_capability=(8, 6),
    trt_version="10.4.0",
    precision="fp32",
)


def test_key_is_stable_and_canonical():
    k = engine_key(**PARTS)
    assert len(k) == 64 and k == engine_key(**PARTS)
    # tuples and lists are the same key (profiles come from both JSON and code)
    same = dict(PARTS, compute_capability=[9, 0],
                profile={"image": tuple(tuple(s) for s in PARTS["profile"]["image"])})
    assert engine_key(**same) == k


@pytest.mark.parametrize("part", sorted(PARTS))
def test_key_changes_when_any_part_changes(part):
    assert engine_key(**dict(PARTS, **{part: CHANGED[part]})) != engine_key(**PARTS)


@pytest.fixture
def stored(tmp_path):
    cache = EngineCache(tmp_path)
    key = engine_key(**PARTS)
    data = bytes(range(256)) * 8
    path = cache.store(key, data, key_parts(**PARTS))
    return cache, key, data, path


def test_store_lookup_round_trip(stored):
    cache, key, data, path = stored
    assert cache.lookup(key) == path
    assert path.read_bytes() == data
    side = json.loads(cache.sidecar_for(key).read_text())
    assert side["key"] == key and side["gpu_name"] == PARTS["gpu_name"] and side["size"] == len(data)
    assert list(cache.keys()) == [key]
    assert not list(path.parent.glob("*.tmp"))   # atomic writes leave no temporaries


def test_miss_for_unknown_key(stored):
    cache = stored[0]
    assert cache.lookup(engine_key(**dict(PARTS, precision="fp32"))) is None


@pytest.mark.parametrize("damage", ["random", "truncated", "appended"])
def test_damaged_engine_is_rejected_and_removed(stored, damage):
    cache, key, data, path = stored
    if damage == "random":
        path.write_bytes(bytes(reversed(data)))        # same size, other bytes
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(data + b"\0")
    assert cache.lookup(key) is None
    assert not path.exists() and not cache.sidecar_for(key).exists()
    assert cache.last_rejection


def test_foreign_or_corrupt_sidecar_is_rejected(stored):
    cache, key, data, path = stored
    side = cache.sidecar_for(key)
    info = json.loads(side.read_text())
    side.write_text(json.dumps(dict(info, key=engine_key(**CHANGED))))   # another key's engine
    assert cache.lookup(key) is None and not path.exists()

    cache.store(key, data, {})
    cache.sidecar_for(key).write_text("{not json")
    assert cache.lookup(key) is None and not path.exists()

    cache.store(key, data, {})
    cache.sidecar_for(key).unlink()                 # interrupted store: engine without sidecar
    assert cache.lookup(key) is None and not path.exists()


def test_validator_can_reject(stored):
    cache, key, _, path = stored
    assert cache.lookup(key, validator=lambda p: True) == path

    def boom(p):
        raise RuntimeError("deserialise failed")
    assert cache.lookup(key, validator=boom) is None and not path.exists()


def test_bad_key_is_refused(tmp_path):
    with pytest.raises(ValueError):
        EngineCache(tmp_path).path_for("../../etc/passwd")
