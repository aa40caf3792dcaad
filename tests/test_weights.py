"""ImageNet weights as keras.applications publishes them, offline.

The references are keras.applications itself: its download call is intercepted
to read the file name, URL and hash it asks for; files "as published" are
written by Keras' own legacy HDF5 writer from a keras.applications model with
random weights and served from a local HTTP server on 127.0.0.1; our model
loaded from that server must give keras.applications' outputs.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
import warnings

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

from keras_lightnets import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small, ShuffleNetV2
from keras_lightnets import weights as kl_weights
from keras_lightnets.weights import catalogue
from keras_lightnets.weights import imagenet_file, load_weights
from keras_lightnets.testing import realistic_weights, relative_error

KA = keras.applications


class _Intercepted(Exception):
    pass


def _keras_request(module: str, build, monkeypatch, **kwargs) -> tuple[str, str, str | None]:
    """(fname, origin, file_hash) that keras.applications asks get_file for."""
    calls = []

    def fake_get_file(fname, origin, file_hash=None, **_):
        calls.append((fname, origin, file_hash))
        raise _Intercepted

    target = __import__(f"keras.src.applications.{module}", fromlist=["file_utils"]).file_utils
    monkeypatch.setattr(target, "get_file", fake_get_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(_Intercepted):
            build(weights="imagenet", **kwargs)
    return calls[0]


V1, V2, V3L, V3S = KA.MobileNet, KA.MobileNetV2, KA.MobileNetV3Large, KA.MobileNetV3Small
# Every width once, with and without the top, other sizes and a non-square one.
REQUESTS = [
    ("mobilenet", V1, "mobilenet_v1", dict(alpha=0.25, input_shape=(224, 224, 3))),
    ("mobilenet", V1, "mobilenet_v1", dict(alpha=0.5, input_shape=(160, 160, 3), include_top=False)),
    ("mobilenet", V1, "mobilenet_v1", dict(alpha=0.75, input_shape=(128, 128, 3))),
    ("mobilenet", V1, "mobilenet_v1", dict(alpha=1.0, input_shape=(100, 120, 3), include_top=False)),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=0.35, input_shape=(96, 96, 3))),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=0.5, input_shape=(128, 128, 3), include_top=False)),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=0.75, input_shape=(192, 192, 3))),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=1.0, input_shape=(160, 192, 3), include_top=False)),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=1.3, input_shape=(224, 224, 3))),
    ("mobilenet_v2", V2, "mobilenet_v2", dict(alpha=1.4, input_shape=(224, 224, 3), include_top=False)),
    ("mobilenet_v3", V3L, "mobilenet_v3_large", dict(alpha=1.0, input_shape=(224, 224, 3))),
    ("mobilenet_v3", V3L, "mobilenet_v3_large", dict(alpha=0.75, input_shape=(224, 224, 3), include_top=False)),
    ("mobilenet_v3", V3L, "mobilenet_v3_large", dict(minimalistic=True, input_shape=(224, 224, 3))),
    ("mobilenet_v3", V3S, "mobilenet_v3_small", dict(alpha=1.0, input_shape=(224, 224, 3), include_top=False)),
    ("mobilenet_v3", V3S, "mobilenet_v3_small", dict(alpha=0.75, input_shape=(224, 224, 3))),
    ("mobilenet_v3", V3S, "mobilenet_v3_small", dict(minimalistic=True, input_shape=(224, 224, 3), include_top=False)),
]


@pytest.mark.parametrize("module, build, family, kwargs", REQUESTS)
def test_same_file_origin_and_hash_as_keras_applications(module, build, family, kwargs, monkeypatch):
    expected = _keras_request(module, build, monkeypatch, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = imagenet_file(family, **kwargs)
    assert tuple(ours) == expected


@pytest.mark.parametrize("shape", [(160, 192, 3), (100, 100, 3), (None, None, 3)])
def test_size_without_a_file_loads_224_with_keras_warning(shape):
    with pytest.warns(UserWarning, match=r"Weights for input shape \(224, 224\) will be loaded"):
        spec = imagenet_file("mobilenet_v2", input_shape=shape, include_top=False)
    assert spec.fname.endswith("_1.0_224_no_top.h5")


# --------------------------------------------------------------- a local server


def _published_file(path, build, **kwargs) -> keras.Model:
    """Write a random-weight keras.applications model as a Keras 2 .h5 weights file."""
    reference = build(weights=None, classifier_activation=None, **kwargs)
    realistic_weights(reference, seed=3)
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, reference)
    return reference


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; KERAS_HOME in tmp_path."""
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(catalogue, "KERAS_APPLICATIONS_URL", f"http://127.0.0.1:{httpd.server_port}/")
    yield served, home / "models", requests
    httpd.shutdown()
    httpd.server_close()


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_imagenet_v3_download_hash_check_cache_and_outputs(server, monkeypatch, rng):
    served, cache, requests = server
    spec = imagenet_file("mobilenet_v3_small")
    (served / "mobilenet_v3").mkdir()
    published = served / "mobilenet_v3" / spec.fname
    reference = _published_file(published, KA.MobileNetV3Small, input_shape=(224, 224, 3))
    monkeypatch.setitem(catalogue.MOBILENET_V3_HASHES, "small_224_1.0_float", (_md5(published), "0" * 32))

    model = MobileNetV3Small(weights="imagenet", classifier_activation=None, input_shape=(224, 224, 3))
    x = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    assert relative_error(model(x).numpy(), reference(x).numpy()) < 1e-5
    # keras.applications loading the same file agrees too.
    keras_loaded = KA.MobileNetV3Small(weights=str(published), classifier_activation=None)
    assert relative_error(model(x).numpy(), keras_loaded(x).numpy()) < 1e-5
    assert sorted(os.listdir(cache)) == [spec.fname]
    assert len(requests) == 1
    names = model.class_names  # the 1,000 ImageNet names travel with the model, shipped, no download
    assert len(names) == 1000 and names[:2] == ["tench", "goldfish"] and names[-1] == "toilet tissue"
    MobileNetV3Small(weights="imagenet")  # from the cache: no second request
    assert len(requests) == 1


@pytest.mark.parametrize(
    "build, ours, family, kwargs",
    [
        (KA.MobileNetV2, MobileNetV2, "mobilenet_v2", dict(alpha=0.35, input_shape=(96, 96, 3), include_top=False)),
        (KA.MobileNet, MobileNetV1, "mobilenet_v1", dict(alpha=0.25, input_shape=(128, 128, 3))),
    ],
    ids=["v2-0.35-96-notop", "v1-0.25-128"],
)
def test_imagenet_v1_v2_files_load_with_keras_outputs(build, ours, family, kwargs, server, rng):
    served, cache, _ = server
    spec = imagenet_file(family, **kwargs)
    folder = served / spec.origin.rsplit("/", 2)[1]
    folder.mkdir()
    extra = dict(classifier_activation=None) if kwargs.get("include_top", True) else {}
    reference = _published_file(folder / spec.fname, build, **kwargs)
    model = ours(weights="imagenet", **kwargs, **extra)
    assert (model.class_names is None) == (kwargs.get("include_top", True) is False)
    x = rng.uniform(-1, 1, (2, *kwargs["input_shape"])).astype("float32")
    assert relative_error(model(x).numpy(), reference(x).numpy()) < 1e-5
    assert sorted(os.listdir(cache)) == [spec.fname]


def test_wrong_hash_is_refused_and_nothing_is_cached(server, monkeypatch):
    served, cache, _ = server
    spec = imagenet_file("mobilenet_v3_large", include_top=False)
    (served / "mobilenet_v3").mkdir()
    _published_file(served / "mobilenet_v3" / spec.fname, KA.MobileNetV3Small, include_top=False)
    with pytest.raises(ValueError, match="does not match its hash"):
        MobileNetV3Large(weights="imagenet", include_top=False)
    assert not cache.exists() or os.listdir(cache) == []


def test_truncated_file_without_hash_is_refused_and_evicted(server):
    served, cache, _ = server
    spec = imagenet_file("mobilenet_v2", alpha=0.5, input_shape=(128, 128, 3), include_top=False)
    (served / "mobilenet_v2").mkdir()
    path = served / "mobilenet_v2" / spec.fname
    _published_file(path, KA.MobileNetV2, alpha=0.5, input_shape=(128, 128, 3), include_top=False)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable Keras .h5"):
        MobileNetV2(weights="imagenet", alpha=0.5, input_shape=(128, 128, 3), include_top=False)
    assert os.listdir(cache) == []


def test_file_for_another_width_is_refused_and_model_unchanged(tmp_path):
    path = tmp_path / "v2_050.h5"
    _published_file(path, KA.MobileNetV2, alpha=0.5, include_top=False)
    model = MobileNetV2(include_top=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match="does not fit.*'stem'.*'Conv1'"):
        load_weights(model, str(path))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match="holds weights for"):
        MobileNetV2(weights=str(path))  # the no-top file for a model with the top


def test_keras3_weights_file_of_another_model_rolls_back(tmp_path):
    other = MobileNetV3Small(alpha=0.75, include_top=False)
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    model = MobileNetV3Small(include_top=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match="left unchanged"):
        load_weights(model, path)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_own_weights_and_keras_files_round_trip(tmp_path, rng):
    model = MobileNetV2(alpha=0.5, input_shape=(96, 96, 3), classes=7)
    realistic_weights(model, seed=5)
    x = rng.uniform(-1, 1, (1, 96, 96, 3)).astype("float32")
    for path in (str(tmp_path / "m.weights.h5"), str(tmp_path / "m.keras")):
        model.save_weights(path) if path.endswith(".weights.h5") else model.save(path)
        loaded = MobileNetV2(alpha=0.5, input_shape=(96, 96, 3), classes=7, weights=path)
        assert np.array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize(
    "build, kwargs, pattern",
    [
        (MobileNetV2, dict(classes=10), r"`classes` should be 1000"),
        (MobileNetV2, dict(alpha=0.6), r"alpha.*0.35.*received alpha=0.6"),
        (MobileNetV1, dict(alpha=0.3), r"alpha.*received alpha=0.3"),
        (MobileNetV1, dict(depth_multiplier=2), r"depth multiplier must be 1"),
        (MobileNetV3Small, dict(minimalistic=True, alpha=0.75), r"minimalistic.*\(1.0,\)"),
        (MobileNetV3Large, dict(padding="symmetric"), r"padding='same'"),
        (MobileNetV2, dict(input_shape=(224, 224, 1)), r"3 input channels"),
        (ShuffleNetV2, {}, r"from_torchvision"),
    ],
)
def test_imagenet_rules_refuse_before_any_download(build, kwargs, pattern, monkeypatch):
    def no_download(*args, **kw):
        raise AssertionError("downloaded before the arguments were checked")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr(keras, "Input", no_download)
    with pytest.raises(ValueError, match=pattern):
        build(weights="imagenet", **kwargs)


def test_fetch_refuses_a_non_spec():
    with pytest.raises(TypeError, match="WeightsFile"):
        kl_weights.fetch("mobilenet_v2")
