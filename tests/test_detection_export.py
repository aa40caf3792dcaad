"""SSDLite to TFLite: the object-detector convention, LiteRT's post-processing op, equal to Keras' detections."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from keras_lightnets.detection import SSDLite, ssdlite_anchors
from keras_lightnets.detection.export import DETECTION_OUTPUTS, detector_to_tflite
from keras_lightnets.detection.postprocess import postprocess
from keras_lightnets.export import to_tflite
from keras_lightnets.litert import run_tflite
from keras_lightnets.testing import realistic_weights, relative_error

SIZE = 320


@pytest.fixture(scope="module")
def detector():
    model = SSDLite("mobilenet_v3_small", 3, input_shape=(SIZE, SIZE, 3))
    model.set_weights(realistic_weights(model, seed=3))
    for layer in model.layers:  # spread the class scores: a random head scores every class alike (near-ties)
        if layer.name.startswith("class_head_") and layer.name.endswith("_conv"):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 40.0, bias])
    model.class_names = ["cat", "dog", "bird"]
    return model


def _run(path, image):
    interpreter = Interpreter(str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def test_float32_file_follows_the_detector_convention_and_equals_keras(detector, tmp_path, rng):
    path = tmp_path / "det.tflite"
    report = detector_to_tflite(detector, path, score_threshold=0.2, max_detections=50)
    assert report.ops.get("TFLite_Detection_PostProcess") == 1
    assert not [op for op in report.ops if op.startswith("Flex")]
    assert (tmp_path / "det.labels.txt").read_text().split() == ["cat", "dog", "bird"]
    interpreter = Interpreter(str(path))
    interpreter.allocate_tensors()  # the post-processing op sizes its outputs here
    details = interpreter.get_output_details()
    assert [tuple(d["shape"]) for d in details] == [(1, 50, 4), (1, 50), (1, 50), (1,)]
    anchors = ssdlite_anchors(detector)
    compared = 0
    for _ in range(2):
        image = rng.uniform(0, 255, (SIZE, SIZE, 3)).astype("float32")
        boxes, classes, scores, count = _run(path, image)
        codes, logits = detector(image[None], training=False)
        (expected,) = postprocess(np.asarray(codes), np.asarray(logits), anchors, (SIZE, SIZE), score_threshold=0.2,
                                  candidates_per_class=10**6, max_detections=50, clip_before_nms=False)
        found = int(count[0])
        assert found == len(expected.scores) > 0
        np.testing.assert_allclose(scores[0, :found], expected.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(classes[0, :found].astype(int), expected.labels - 1)
        yxyx = np.clip(boxes[0, :found], 0.0, 1.0) * SIZE
        np.testing.assert_allclose(yxyx[:, [1, 0, 3, 2]], expected.boxes, atol=1e-4 * SIZE)
        compared += found
    assert compared >= 10


@pytest.mark.parametrize("quantization", ["float16", "dynamic", "int8"])
def test_every_precision_converts_with_the_post_processing_op(detector, quantization, tmp_path, rng):
    calibration = rng.uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    path = tmp_path / f"{quantization}.tflite"
    report = to_tflite(detector, path, quantization, calibration, num_calibration=4)  # hands detectors to detector_to_tflite
    assert report.ops.get("TFLite_Detection_PostProcess") == 1 and not [op for op in report.ops if op.startswith("Flex")]
    assert ("HARD_SWISH" in report.ops) == (quantization != "int8")  # int8: MUL/ADD, which XNNPACK runs in int8
    boxes, classes, scores, count = _run(path, calibration[0])
    assert boxes.shape == (1, 100, 4) and 0 <= int(count[0]) <= 100
    assert np.all(scores[0, : int(count[0])] >= 0.01 - 1e-4)  # detector_to_tflite's default threshold


def test_raw_outputs_file_has_builtin_ops_only_and_equals_keras(detector, tmp_path, rng):
    report = to_tflite(detector, tmp_path / "raw.tflite", postprocess=False)
    assert "TFLite_Detection_PostProcess" not in report.ops and not [op for op in report.ops if op.startswith("Flex")]
    image = rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    boxes, logits = run_tflite(report.path, image, all_outputs=True)
    codes, expected = (np.asarray(o) for o in detector(image, training=False))
    assert relative_error(boxes, codes) <= 1e-5 and relative_error(logits, expected) <= 1e-5
    with pytest.raises(ValueError, match="postprocess=False"):
        to_tflite(detector, tmp_path / "x.tflite", input_size=(320, 320))


def test_bad_arguments(detector, tmp_path):
    with pytest.raises(ValueError, match="quantization"):
        detector_to_tflite(detector, tmp_path / "x.tflite", "int4")
    with pytest.raises(ValueError, match="score_threshold"):
        detector_to_tflite(detector, tmp_path / "x.tflite", score_threshold=1.0)
    with pytest.raises(ValueError, match="tflite"):
        detector_to_tflite(detector, tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []
    assert DETECTION_OUTPUTS[0] == "detection_boxes"


def test_keras_file_round_trip_in_safe_mode(detector, tmp_path, rng):
    import keras

    path = tmp_path / "det.keras"
    detector.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    image = rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    for ours, theirs in zip(detector(image, training=False), loaded(image, training=False)):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_array_equal(ssdlite_anchors(loaded), ssdlite_anchors(detector))
    assert loaded.class_names == ["cat", "dog", "bird"]


FAMILIES = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v4_conv_small",
            "mobilenet_v4_conv_medium", "shufflenet_v2_x1_0"]


@pytest.mark.parametrize("name", FAMILIES)
def test_every_backbone_family_builds_an_ssdlite_with_six_maps(name):
    model = SSDLite(name, 5, input_shape=(320, 320, 3))
    sizes = [tuple(entry["size"]) for entry in model.feature_info]
    assert sizes == [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    assert [tuple(o.shape) for o in model.outputs] == [(None, 3234, 4), (None, 3234, 6)]
    assert len(ssdlite_anchors(model)) == 3234


def test_predict_finds_the_same_objects_from_the_tflite_and_keras_files_and_draws_them(detector, tmp_path, rng, capsys):
    from PIL import Image

    from keras_lightnets.cli import main
    from keras_lightnets.predict import detect_images

    tflite_path, keras_path = tmp_path / "det.tflite", tmp_path / "det.keras"
    detector_to_tflite(detector, tflite_path, score_threshold=0.2, max_detections=20)
    detector.save(keras_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(rng.integers(0, 255, (240, 400, 3), dtype=np.uint8)).save(photos / "wide.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(photos / "turned.jpg", exif=exif.tobytes())
    from_tflite = detect_images(tflite_path, [photos], score_threshold=0.2, max_detections=20)
    from_keras = detect_images(keras_path, [photos], score_threshold=0.2, max_detections=20)
    assert [f.size for f in from_tflite] == [(300, 200), (240, 400)]  # (height, width) after EXIF
    for ours, theirs in zip(from_tflite, from_keras):
        assert ours.detections and ours.detections[0].label in ("cat", "dog", "bird")
        assert ours.detections[0].label == theirs.detections[0].label
        np.testing.assert_allclose(ours.detections[0].box, theirs.detections[0].box, atol=1.0)
        for detection in ours.detections:
            x1, y1, x2, y2 = detection.box
            assert 0 <= x1 <= x2 <= ours.size[1] and 0 <= y1 <= y2 <= ours.size[0] and detection.score >= 0.2
    assert main(["predict", str(tflite_path), str(photos), "--score", "0.2", "--draw", str(tmp_path / "drawn")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(str(photos / "wide.png")) for line in lines) == len(from_tflite[1].detections)
    assert {p.name for p in (tmp_path / "drawn").iterdir()} == {"wide.png", "turned.png"}
    assert Image.open(tmp_path / "drawn" / "turned.png").size == (200, 300)  # (width, height) upright
    assert main(["predict", str(tflite_path), str(photos), "--score", "nan"]) == 2
    assert "score_threshold" in capsys.readouterr().err
