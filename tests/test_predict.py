"""Predictions with class names from .keras files; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from keras_lightnets import MobileNetV3Small
from keras_lightnets.predict import predict_images


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    model = MobileNetV3Small(input_shape=(32, 32, 3), classes=3)
    model.class_names = ["cat", "dog", "owl"]
    model.save(folder / "m.keras")
    nameless = MobileNetV3Small(input_shape=(32, 32, 3), classes=3, classifier_activation=None)
    nameless.save(folder / "logits.keras")
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(folder / "photos" / f"{i}.jpg")
    return folder, model


def test_keras_file_gives_named_probabilities_equal_to_the_model(saved):
    folder, model = saved
    results = predict_images(folder / "m.keras", [str(folder / "photos")], top=3)
    assert [r.path.rsplit("/", 1)[1] for r in results] == ["0.jpg", "1.jpg", "2.jpg"]
    for result in results:
        names = [name for name, _ in result.classes]
        probabilities = [p for _, p in result.classes]
        assert sorted(names) == ["cat", "dog", "owl"] and probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    from keras_lightnets.data import load_image

    image = np.asarray(load_image(str(folder / "photos" / "0.jpg"), 1, 32))[None]
    expected = model.predict(image, verbose=0)[0]
    assert results[0].classes[0] == ("cat dog owl".split()[int(expected.argmax())], pytest.approx(float(expected.max()), abs=1e-5))


def test_logits_become_probabilities_and_unnamed_classes_are_numbered(saved):
    folder, _ = saved
    (result,) = predict_images(folder / "logits.keras", [str(folder / "photos" / "1.jpg")], top=2)
    assert [name.split()[0] for name, _ in result.classes] == ["class", "class"]
    assert 0 < sum(p for _, p in result.classes) <= 1.0


@pytest.mark.parametrize(
    "model, images, kwargs, error, pattern",
    [
        ("m.keras", [], {}, ValueError, "images"),
        ("m.keras", ["missing.jpg"], {}, ValueError, "missing.jpg"),
        ("m.keras", ["m.keras"], {}, ValueError, "not an image"),
        ("m.keras", ["photos"], dict(top=0), ValueError, "top"),
        ("photos/0.jpg", ["photos"], {}, ValueError, r"\.keras or \.tflite"),
    ],
)
def test_bad_input(model, images, kwargs, error, pattern, saved):
    folder, _ = saved
    images = [str(folder / i) if i != "missing.jpg" else i for i in images]
    with pytest.raises(error, match=pattern):
        predict_images(folder / model, images, **kwargs)
