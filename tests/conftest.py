"""Shared fixtures: quiet TensorFlow, a seeded random generator, the digits and a trained model.

torch and torchvision are imported only for sessions that collect the tests
needing them (``TORCH_TEST_MODULES``), and then before TensorFlow: with torch
2.14.1's CUDA build, importing torchvision after TensorFlow loads triton's LLVM
next to TensorFlow's and crashes the process. The Keras-only tests never import
torch, so they also run where it is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

TORCH_TEST_MODULES = ("test_torchvision.py", "test_timm.py", "test_detection.py", "test_doctests.py")
_HERE = pathlib.Path(__file__).parent.resolve()


def _collects_torch_tests(args: list[str]) -> bool:
    for arg in args or ["."]:
        path = pathlib.Path(arg.split("::")[0]).resolve()
        for module in TORCH_TEST_MODULES:
            target = _HERE / module
            if path == target or path in target.parents:
                return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist (3.8 here) hands `--dist loadfile` modules out by test count unless told not to, which ran the
    # longest modules (few tests each) last: keep the order of LONGEST_FIRST below.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if _collects_torch_tests(list(config.args)) and importlib.util.find_spec("torchvision") is not None:
        import torchvision  # noqa: F401  (before TensorFlow; see the module docstring)

        if importlib.util.find_spec("timm") is not None:
            import timm  # noqa: F401  (imports torchvision's transforms: also before TensorFlow)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits_data():
    """The embedded digits at 32x32 (train pipeline augmented)."""
    from keras_lightnets.data import digits

    return digits(input_size=32, batch_size=64)


def _trained_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, train: Callable[[pathlib.Path], Any]
) -> tuple[Any, pathlib.Path]:
    """``train(folder)``'s :class:`~keras_lightnets.train.TrainResult`, trained once per test session, and its folder.

    pytest-xdist workers share the session's base temporary folder: the first worker
    to ask trains (under a file lock) and saves the model and the rest of the result;
    the others wait and load them. Every caller gets the loaded model (``model.keras``
    in the folder), so all workers test the same thing.
    """
    import dataclasses
    import pickle

    import keras
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / f"trained_{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / "result.pickle").is_file():
            folder.mkdir(exist_ok=True)
            result = train(folder)
            result.model.save(folder / "model.keras")
            (folder / "result.pickle").write_bytes(pickle.dumps(dataclasses.replace(result, model=None)))
    result = pickle.loads((folder / "result.pickle").read_bytes())
    return dataclasses.replace(result, model=keras.saving.load_model(folder / "model.keras", safe_mode=True)), folder


@pytest.fixture(scope="session")
def trained_v3_small(tmp_path_factory, digits_data):
    """MobileNetV3-Small trained on the digits with the package's recipe (~45 s alone; once per session)."""

    def train(folder: pathlib.Path) -> Any:
        from keras_lightnets.train import fit

        return fit("mobilenet_v3_small", digits_data, epochs=12, verbose=0)

    return _trained_once(tmp_path_factory, "v3_small", train)[0]


@pytest.fixture(scope="session")
def source_0_4(tmp_path_factory):
    """A MobileNetV3-Small trained on digits 0-4 only, saved as .keras, .weights.h5 and Keras 2 .h5 (~60 s; once).

    The pretrained starting point of the transfer tests (which fine-tune on 5-9).
    """

    def train(folder: pathlib.Path) -> Any:
        from keras.src.legacy.saving import legacy_h5_format
        import h5py

        from keras_lightnets.data import digits
        from keras_lightnets.train import fit

        result = fit("mobilenet_v3_small", digits(classes=(0, 1, 2, 3, 4)), epochs=10, verbose=0)
        result.model.save_weights(folder / "source.weights.h5")
        with h5py.File(folder / "source.h5", "w") as file:
            legacy_h5_format.save_weights_to_hdf5_group(file, result.model)
        return result

    result, folder = _trained_once(tmp_path_factory, "source_0_4", train)
    paths = {".keras": folder / "model.keras", ".weights.h5": folder / "source.weights.h5", ".h5": folder / "source.h5"}
    return result, {suffix: str(path) for suffix, path in paths.items()}


# The TensorFlow session's longest modules (worker-minutes measured in CI, 2 cores), longest first.
LONGEST_FIRST = [
    "test_train", "test_detection_train", "test_export", "test_benchmarks", "test_transfer", "test_small_data",
    "test_segmentation_train", "test_cli", "test_doctests", "test_notebooks", "test_mobilenet_v4", "test_models",
    "test_quantization", "test_detection_export", "test_timm", "test_features", "test_detection", "test_rewrites",
    "test_shufflenet", "test_wheel", "test_registry",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) what a session's backend need not repeat; order the longest modules first.

    TensorFlow sessions leave out ``other_backends`` tests: they repeat on JAX and
    PyTorch what the TensorFlow session's own tests and CI's main-job command run.
    JAX sessions leave out ``slow_on_jax`` tests (the 12-epoch main job: ~6 min on
    CPU, where XLA's depthwise convolution is ~9x slower than TensorFlow's) unless
    ``KERAS_LIGHTNETS_ALL_JAX_TESTS=1``: CI's time limit, not a missing feature.
    """
    import keras

    backend = keras.backend.backend()
    leave_out = {"tensorflow": "other_backends", "jax": "slow_on_jax"}.get(backend)
    if backend == "jax" and os.environ.get("KERAS_LIGHTNETS_ALL_JAX_TESTS") == "1":
        leave_out = None
    if leave_out is not None:
        kept = [item for item in items if item.get_closest_marker(leave_out) is None]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = kept
    # Longest modules first: `--dist loadfile` hands modules to the two workers in this order, so the long ones start
    # early and the short ones fill the gaps (in collection order the longest came last and one worker idled).
    items.sort(key=lambda item: LONGEST_FIRST.index(item.module.__name__.rpartition(".")[2])
               if item.module.__name__.rpartition(".")[2] in LONGEST_FIRST else len(LONGEST_FIRST))
