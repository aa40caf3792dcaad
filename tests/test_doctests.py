"""Every docstring example runs (doctest), module by module, in one shared folder of example files.

The examples use these names and files (made once by :func:`examples`, small and
untrained unless said):

* ``args``: checked model arguments (:class:`~keras_lightnets.models.args.ModelArgs`: 32x32x3, 2 classes).
* ``model``: a MobileNetV3-Small classifier at 32x32 trained one epoch on ``photos/``
  (``result`` is its :class:`~keras_lightnets.train.TrainResult`, ``data`` its
  :class:`~keras_lightnets.data.Data`), ``images``: 8 of those photos as float32 pixels;
  ``run.keras`` is the model, ``model.tflite`` / ``model_int8.tflite`` its float32 and
  int8 files (with ``model_int8.labels.txt``).
* ``logs/``: an empty folder; ``photos/``: an image folder with the classes ``cat`` and ``dog``; ``cat.jpg`` (EXIF
  orientation 6, as phones write) and ``street.jpg``: single photos.
* ``detector``: an SSDLite (MobileNetV3-Small, 160x160) on ``detection_data``
  (``boxes/``, generated shapes, YOLO layout); ``det.tflite`` its file with post-processing.
* ``segmenter``: an LR-ASPP (MobileNetV3-Small, 64x64) on ``segmentation_data``
  (``scenes/``, generated masks); ``seg.tflite`` its file.
* ``mobilenet_v2.weights.h5``: our MobileNetV2's weights (Keras 3); ``mobilenet_v2.h5``:
  ``keras.applications``' MobileNetV2 in a Keras 2 weights file (as its published files).

Examples that need a download are marked ``# doctest: +SKIP`` and say so in the
line before them ("Downloads ..."); ``test_only_downloads_are_skipped`` holds that.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.helpers import PACKAGE_MODULES

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _photo(path: pathlib.Path, rng: np.random.Generator, tint: tuple[int, int, int], orientation: int = 1) -> None:
    """A 40x48 photo: a tinted gradient with noise (JPEG or PNG by suffix), with an EXIF orientation."""
    ramp = np.linspace(0.3, 1.0, 48)[None, :, None] * np.array(tint)[None, None, :]
    pixels = np.clip(ramp + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif)


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> tuple[pathlib.Path, dict[str, Any]]:
    """The examples' folder and names (see the module docstring); ~1.5 min on 2 cores."""
    import keras

    from keras_lightnets import MobileNetV2, create_model
    from keras_lightnets.data import image_folder
    from keras_lightnets.detection import detection_folder
    from keras_lightnets.export import to_tflite
    from keras_lightnets.models.args import CLASSIFIER_SIZE, SHARED_PARAMETERS, ModelArgs
    from keras_lightnets.segmentation import segmentation_folder
    from keras_lightnets.synthetic import detection_photos, segmentation_photos
    from keras_lightnets.train import fit
    from keras.src.legacy.saving import legacy_h5_format
    import h5py

    root = tmp_path_factory.mktemp("examples")
    (root / "logs").mkdir()
    rng = np.random.default_rng(0)
    for name, tint in (("cat", (220, 120, 60)), ("dog", (60, 120, 220))):
        for index in range(20):
            _photo(root / "photos" / name / f"{index + 1}.{'png' if index % 4 == 1 else 'jpg'}", rng, tint)
    _photo(root / "cat.jpg", rng, (220, 120, 60), orientation=6)  # turned, as phones write them
    _photo(root / "street.jpg", rng, (128, 128, 128))
    data = image_folder(root / "photos", input_size=32, batch_size=8, seed=0)
    result = fit("mobilenet_v3_small", data, epochs=1, verbose=0)
    model = result.model
    images = data.calibration[:8]
    model.save(root / "run.keras")
    to_tflite(model, root / "model.tflite")
    to_tflite(model, root / "model_int8.tflite", "int8", images)

    detection_data = detection_folder(
        detection_photos(root / "boxes", "yolo", counts={"train": 8, "val": 4, "test": 4}, seed=0),
        input_size=160, batch_size=4,
    )
    detector = create_model("ssdlite_mobilenet_v3_small", num_classes=detection_data.num_classes,
                            input_shape=(160, 160, 3), extra_filters=(256, 128))
    to_tflite(detector, root / "det.tflite")
    segmentation_data = segmentation_folder(
        segmentation_photos(root / "scenes", counts={"train": 8, "val": 4, "test": 4}, seed=0),
        input_size=64, batch_size=4,
    )
    segmenter = create_model("lraspp_mobilenet_v3_small", num_classes=segmentation_data.num_classes, input_shape=(64, 64, 3))
    to_tflite(segmenter, root / "seg.tflite")

    MobileNetV2(weights=None).save_weights(root / "mobilenet_v2.weights.h5")
    with h5py.File(root / "mobilenet_v2.h5", "w") as file:  # keras.applications' layout, as its published files
        legacy_h5_format.save_weights_to_hdf5_group(file, keras.applications.MobileNetV2(weights=None))
    keras.utils.clear_session(free_memory=False)
    shared = {name: default for name, (_, default) in SHARED_PARAMETERS.items()}
    args = ModelArgs.check(
        **{**shared, "input_shape": (32, 32, 3), "classes": 2, "include_preprocessing": True}, default_size=CLASSIFIER_SIZE
    )
    names = dict(
        args=args, model=model, result=result, data=data, images=images, detector=detector, detection_data=detection_data,
        segmenter=segmenter, segmentation_data=segmentation_data,
    )
    return root, names


@pytest.mark.parametrize("name", PACKAGE_MODULES)
def test_docstring_examples_run(name, examples, monkeypatch):
    folder, names = examples
    monkeypatch.chdir(folder)  # the examples' files are here; what they write goes here
    for module_name, table in (("registry", "_REGISTRY"), ("export", "_TASK_WRITERS"), ("convert.torchvision", "_TASK_MODELS")):
        owner = importlib.import_module(f"keras_lightnets.{module_name}")  # what the examples register goes away
        monkeypatch.setattr(owner, table, dict(getattr(owner, table)))
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name, globs={**vars(module), **names}):
        runner.run(test, out=failures.append)
    assert not failures, "".join(failures)


def test_only_downloads_are_skipped():
    """A skipped example follows a line saying it downloads; at least the known downloads are there."""
    skipped = []
    for path in sorted((ROOT / "keras_lightnets").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "doctest: +SKIP" in line:
                block = lines[max(0, number - 4):number]
                said = any("Downloads" in earlier for earlier in block)
                skipped.append((f"{path.relative_to(ROOT)}:{number + 1}", said))
    unexplained = [where for where, said in skipped if not said]
    assert not unexplained, f"skipped examples that download nothing (make them run): {unexplained}"
    assert len(skipped) >= 5  # ImageNet, torchvision and timm weights
