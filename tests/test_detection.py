"""Detection pieces against torchvision: default boxes, box coder, matcher and the SSD loss."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest

torchvision = pytest.importorskip("torchvision", reason="the torchvision tests need the [test] extra")
import torch  # noqa: E402
from torchvision.models.detection import _utils as det_utils  # noqa: E402
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator  # noqa: E402
from torchvision.models.detection.image_list import ImageList  # noqa: E402
from torchvision.models.detection.ssd import SSD  # noqa: E402
from torchvision.ops import box_iou as torch_box_iou  # noqa: E402

from tests.helpers import realistic_torch_batch_norm  # noqa: E402
from keras_lightnets.detection import (  # noqa: E402
    BOX_WEIGHTS, box_iou, decode_boxes, default_boxes, encode_boxes, match_anchors, ssd_losses,
)

SSDLITE_MAPS = [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]  # ssdlite320_mobilenet_v3_large at 320


def _torch_anchors(sizes, image_size, **kwargs):
    generator = DefaultBoxGenerator([[2, 3]] * len(sizes), **kwargs)
    images = ImageList(torch.zeros(1, 3, *image_size), [tuple(image_size)])
    maps = [torch.zeros(1, 8, h, w) for h, w in sizes]
    return generator(images, maps)[0].numpy()


@pytest.mark.parametrize(
    "sizes, image_size",
    [(SSDLITE_MAPS, (320, 320)), ([(24, 31), (12, 16), (6, 8), (3, 4), (2, 2), (1, 1)], (383, 497))],
)
def test_default_boxes_equal_torchvision(sizes, image_size):
    ours = default_boxes(sizes, image_size)
    theirs = _torch_anchors(sizes, image_size, min_ratio=0.2, max_ratio=0.95)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * max(image_size))
    if image_size == (320, 320):
        assert ours.shape == (3234, 4)  # torchvision's ssdlite320_mobilenet_v3_large anchor count


def _random_boxes(rng, count, size=320.0):
    corner = rng.uniform(0, size * 0.8, (count, 2))
    extent = rng.uniform(size * 0.05, size * 0.5, (count, 2))
    return np.concatenate([corner, np.minimum(corner + extent, size)], axis=-1).astype("float32")


def test_iou_and_box_coder_equal_torchvision(rng):
    boxes, anchors = _random_boxes(rng, 50), default_boxes(SSDLITE_MAPS, (320, 320))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(box_iou(boxes, anchors)),
        torch_box_iou(torch.from_numpy(boxes), torch.from_numpy(anchors)).numpy(), atol=1e-6,
    )
    coder = det_utils.BoxCoder(weights=BOX_WEIGHTS)
    targets = _random_boxes(rng, len(anchors))
    ours = keras.ops.convert_to_numpy(encode_boxes(targets, anchors))
    np.testing.assert_allclose(ours, coder.encode_single(torch.from_numpy(targets), torch.from_numpy(anchors)).numpy(),
                               rtol=1e-4, atol=1e-4)
    codes = rng.normal(0, 2, (len(anchors), 4)).astype("float32")
    codes[:5, 2:] = 60.0  # beyond the clip
    decoded = coder.decode_single(torch.from_numpy(codes), torch.from_numpy(anchors)).numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(decode_boxes(codes, anchors)), decoded, rtol=1e-5, atol=1e-3)
    round_trip = keras.ops.convert_to_numpy(decode_boxes(encode_boxes(targets, anchors), anchors))
    np.testing.assert_allclose(round_trip, targets, atol=1e-3)


def _ground_truth(rng, counts, size=320.0, classes=5, pad=6):
    boxes = np.zeros((len(counts), pad, 4), "float32")
    labels = np.zeros((len(counts), pad), "int32")
    valid = np.zeros((len(counts), pad), bool)
    for i, count in enumerate(counts):
        boxes[i, :count] = _random_boxes(rng, count, size)
        labels[i, :count] = rng.integers(1, classes + 1, count)
        valid[i, :count] = True
        boxes[i, count:] = rng.uniform(0, size, 4)  # padding rows hold junk: they must never match
    return boxes, labels, valid


def test_matching_equals_torchvision_ssd_matcher(rng):
    anchors = default_boxes(SSDLITE_MAPS, (320, 320))
    boxes, _, valid = _ground_truth(rng, [4, 1, 0, 6])
    ours = keras.ops.convert_to_numpy(match_anchors(boxes, valid, anchors))
    matcher = det_utils.SSDMatcher(0.5)
    for image in range(len(boxes)):
        count = int(valid[image].sum())
        if count == 0:
            np.testing.assert_array_equal(ours[image], -1)
            continue
        iou = torch_box_iou(torch.from_numpy(boxes[image, :count]), torch.from_numpy(anchors))
        np.testing.assert_array_equal(ours[image], matcher(iou).numpy())
        assert set(ours[image][ours[image] >= 0]) == set(range(count))  # every box has an anchor


def test_ssd_loss_equals_torchvision_compute_loss(rng):
    anchors = default_boxes(SSDLITE_MAPS, (320, 320))
    boxes, labels, valid = _ground_truth(rng, [3, 1, 6, 2])
    codes = rng.normal(0, 1, (4, len(anchors), 4)).astype("float32")
    logits = rng.normal(0, 2, (4, len(anchors), 6)).astype("float32")
    box_loss, class_loss = (float(keras.ops.convert_to_numpy(v)) for v in ssd_losses(boxes, labels, valid, codes, logits, anchors))
    reference = types.SimpleNamespace(box_coder=det_utils.BoxCoder(weights=BOX_WEIGHTS), neg_to_pos_ratio=3)
    targets, matched = [], []
    for image in range(4):
        count = int(valid[image].sum())
        target = {"boxes": torch.from_numpy(boxes[image, :count]), "labels": torch.from_numpy(labels[image, :count]).long()}
        targets.append(target)
        matched.append(det_utils.SSDMatcher(0.5)(torch_box_iou(target["boxes"], torch.from_numpy(anchors))))
    outputs = {"bbox_regression": torch.from_numpy(codes), "cls_logits": torch.from_numpy(logits)}
    theirs = SSD.compute_loss(reference, targets, outputs, [torch.from_numpy(anchors)] * 4, matched)
    assert box_loss == pytest.approx(float(theirs["bbox_regression"]), rel=1e-4)
    assert class_loss == pytest.approx(float(theirs["classification"]), rel=1e-4)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: default_boxes([], (320, 320)), ValueError, "feature_sizes"),
        (lambda: default_boxes([(0, 3)], (320, 320)), ValueError, "feature_sizes"),
        (lambda: default_boxes([(3, 3)], (320, 320), [[2], [3]]), ValueError, "aspect_ratios"),
        (lambda: default_boxes([(3, 3)], (320, 320), min_ratio=0.0), ValueError, "min_ratio"),
        (lambda: default_boxes([(3, 3)], (320, "320")), TypeError, "image_size"),
        (lambda: match_anchors(np.zeros((1, 1, 4)), np.ones((1, 1), bool), np.ones((1, 4)), threshold=1.5),
         ValueError, "threshold"),
    ],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def _torchvision_ssdlite():
    torch.manual_seed(0)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    return realistic_torch_batch_norm(model)


@pytest.fixture(scope="module")
def ssdlite_pair():
    from keras_lightnets import from_torchvision

    reference = _torchvision_ssdlite()
    return reference, from_torchvision("ssdlite320_mobilenet_v3_large", reference.state_dict())


def test_ssdlite_has_torchvisions_parameter_count(ssdlite_pair):
    from keras_lightnets import create_model

    reference, model = ssdlite_pair
    theirs = sum(p.numel() for p in reference.parameters())
    ours = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert ours == theirs == 3_440_060
    # The registry's name builds the same network (with in-model [0, 255] -> [-1, 1] scaling, as torchvision's transform).
    named = create_model("ssdlite320_mobilenet_v3_large", num_classes=90)
    assert [w.shape for w in named.weights] == [w.shape for w in model.weights] and named.task == model.task == "detection"


@pytest.mark.parametrize("size", [(320, 320), (337, 419)])
def test_ssdlite_raw_outputs_equal_torchvision(ssdlite_pair, size, rng):
    from keras_lightnets.detection import ssdlite_anchors, ssdlite_from_torchvision
    from keras_lightnets.testing import relative_error

    reference, model = ssdlite_pair
    if size != (320, 320):
        model = ssdlite_from_torchvision(reference.state_dict(), input_shape=(*size, 3))
    x = rng.uniform(-1, 1, (2, *size, 3)).astype("float32")
    with torch.no_grad():
        maps = list(reference.backbone(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).values())
        head = reference.head(maps)
        images = ImageList(torch.zeros(2, 3, *size), [size] * 2)
        anchors = reference.anchor_generator(images, maps)[0].numpy()
    boxes, logits = (keras.ops.convert_to_numpy(o) for o in model(x, training=False))
    assert relative_error(boxes, head["bbox_regression"].numpy()) <= 1e-4
    assert relative_error(logits, head["cls_logits"].numpy()) <= 1e-4
    np.testing.assert_allclose(ssdlite_anchors(model), anchors, rtol=1e-6, atol=1e-6 * max(size))


def test_ssdlite_refuses_an_input_too_small_and_unknown_backbones():
    from keras_lightnets.detection import SSDLite

    with pytest.raises(ValueError, match="too small"):
        SSDLite("mobilenet_v3_large", 3, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="shufflenet_v1"):
        SSDLite("shufflenet_v1_g3_x1_0", 3)
    with pytest.raises(ValueError, match="num_classes"):
        SSDLite("mobilenet_v3_large", 0)


def test_postprocess_equals_torchvision_postprocess_detections(ssdlite_pair, rng):
    from keras_lightnets.detection import ssdlite_anchors
    from keras_lightnets.detection.postprocess import postprocess

    reference, model = ssdlite_pair
    anchors = ssdlite_anchors(model)
    # Head outputs with distinct scores (a random-weight detector scores every class ~1/91: ties everywhere).
    boxes = rng.normal(0, 1, (2, len(anchors), 4)).astype("float32")
    logits = rng.normal(0, 3, (2, len(anchors), 91)).astype("float32")
    head = {"bbox_regression": torch.from_numpy(boxes), "cls_logits": torch.from_numpy(logits)}
    for threshold in (0.001, 0.05):
        reference.score_thresh = threshold
        with torch.no_grad():
            theirs = reference.postprocess_detections(head, [torch.from_numpy(anchors)] * 2, [(320, 320)] * 2)
        ours = postprocess(boxes, logits, anchors, (320, 320), score_threshold=threshold)
        for mine, their in zip(ours, theirs):
            assert len(mine.scores) == len(their["scores"]) > 0
            np.testing.assert_allclose(mine.scores, their["scores"].numpy(), rtol=1e-5)
            np.testing.assert_array_equal(mine.labels, their["labels"].numpy())
            np.testing.assert_allclose(mine.boxes, their["boxes"].numpy(), atol=1e-3)


def test_detection_benchmark_smoke_run(tmp_path):
    import json

    from benchmarks.detection import main as detection

    output = tmp_path / "results"
    argv = ["--models", "ssdlite_mobilenet_v3_small", "--size", "320", "--runs", "3", "--trials", "1", "--output", str(output)]
    assert detection(argv) == 0
    results = json.loads((output / "detection.json").read_text())
    (row,) = results["rows"]
    assert row["float32_ms"] > 0 and row["int8_ms"] > 0 and results["torchvision_ms"] > 0
    assert row["float32_flex_ops"] == row["int8_flex_ops"] == []
    assert "`ssdlite_mobilenet_v3_small`" in (output / "detection.md").read_text()
