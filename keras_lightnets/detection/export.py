"""SSDLite to the phone: a ``.tflite`` file in the TFLite object-detector convention.

Outputs, in this order (what the Android/iOS Task Library and MediaPipe's
ObjectDetector read): ``detection_boxes [1, K, 4]`` normalised
``(ymin, xmin, ymax, xmax)``, ``detection_classes [1, K]`` (0 = the first real
class), ``detection_scores [1, K]``, ``num_detections [1]``. Post-processing is
LiteRT's ``TFLite_Detection_PostProcess`` (a custom op in LiteRT's default op
resolver: no Flex), fed by the network's box regressions reordered to
``(dy, dx, dh, dw)`` with scales ``(10, 10, 5, 5)``, its softmax class scores and
the anchors as normalised ``(y_center, x_center, h, w)`` constants.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import keras
import numpy as np

from keras_lightnets.calibration import calibration_samples
from keras_lightnets.detection.boxes import BOX_WEIGHTS
from keras_lightnets.detection.ssdlite import ssdlite_anchors
from keras_lightnets.export import (
    QUANTIZATIONS, TFLiteReport, converter_options, labels_path, register_tflite_writer, tflite_graph,
)
from keras_lightnets.files import atomic_target, check_output_path, quiet_native_logs
from keras_lightnets.litert import order_outputs, tflite_ops
from keras_lightnets.quantization import is_quantize_aware
from keras_lightnets.validation import check_bool, check_choice, check_float, check_int

__all__ = ["DETECTION_OUTPUTS", "detector_to_tflite", "tflite_anchors"]

DETECTION_OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")


def tflite_anchors(anchors: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Pixel ``(x1, y1, x2, y2)`` anchors as the TFLite op reads them: normalised ``(y_center, x_center, h, w)``.

    Args:
        anchors: ``[A, 4]`` default boxes in pixels.
        image_size: ``(height, width)`` of the model input.

    Examples:
        >>> tflite_anchors(np.array([[0.0, 0.0, 32.0, 16.0]]), (64, 64)).tolist()
        [[0.125, 0.25, 0.25, 0.5]]
    """
    height, width = image_size
    x1, y1, x2, y2 = (anchors[:, i] for i in range(4))
    return np.stack([(y1 + y2) / 2 / height, (x1 + x2) / 2 / width, (y2 - y1) / height, (x2 - x1) / width], -1).astype(
        np.float32
    )


def _signature(classes: int, score: float, iou: float, detections: int, per_class: int) -> str:
    """The ``experimental_implements`` text the converter turns into ``TFLite_Detection_PostProcess``."""
    wx, wy, ww, wh = BOX_WEIGHTS
    attributes = {
        "max_detections": f"i: {detections}", "max_classes_per_detection": "i: 1",
        "detections_per_class": f"i: {per_class}", "use_regular_nms": "b: true",
        "nms_score_threshold": f"f: {score}", "nms_iou_threshold": f"f: {iou}", "num_classes": f"i: {classes}",
        "y_scale": f"f: {wy}", "x_scale": f"f: {wx}", "h_scale": f"f: {wh}", "w_scale": f"f: {ww}",
    }
    return 'name: "TFLite_Detection_PostProcess" ' + " ".join(
        f'attr {{ key: "{key}" value {{ {value} }} }}' for key, value in attributes.items()
    )


def detector_to_tflite(
    model: keras.Model,
    path: Any,
    quantization: str = "float32",
    representative_data: Any = None,
    num_calibration: int = 100,
    *,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.55,
    max_detections: int = 100,
    overwrite: bool = False,
    hard_swish: str = "auto",
    absorb_shuffle: bool = True,
) -> TFLiteReport:
    """Write an :func:`~keras_lightnets.detection.SSDLite` model as a phone-ready detector file (batch 1).

    Detections follow LiteRT's regular (per-class) NMS, which selects what
    :func:`~keras_lightnets.detection.postprocess` selects with
    ``clip_before_nms=False`` and ``candidates_per_class`` unbounded. The
    class names (``model.class_names``) are written beside the file
    (``.labels.txt``), one per line, background not included. TensorFlow backend;
    ``keras_lightnets.export.to_tflite(detector, ...)`` calls this (on any backend).

    Args:
        model: an SSDLite model with a fixed input size.
        path: the ``.tflite`` file to write.
        quantization: one of ``QUANTIZATIONS`` (``"int8"`` needs ``representative_data``).
        representative_data: int8 calibration images as the model expects them.
        num_calibration: calibration images to use (>= 1).
        score_threshold: lowest score reported, in [0, 1); low by default, as for COCO evaluation
            (apps apply their own: the Task Library's and MediaPipe's ``score_threshold`` option).
        iou_threshold: NMS IoU, in [0, 1].
        max_detections: detections per image (>= 1); also per class.
        overwrite: replace an existing file.
        hard_swish: ``"auto"`` (MUL/ADD ops in int8 files, where XNNPACK has no int8
            ``HARD_SWISH``), ``"fused"`` or ``"decomposed"``.
        absorb_shuffle: write ShuffleNet channel shuffles without data movement.

    Examples:
        >>> images = np.concatenate([batch for batch, _ in detection_data.train])
        >>> report = detector_to_tflite(detector, "det_int8.tflite", "int8", images, overwrite=True)
        >>> report.ops["TFLite_Detection_PostProcess"]
        1
    """
    import tensorflow as tf

    quantization = check_choice("quantization", quantization, QUANTIZATIONS)
    score = check_float("score_threshold", score_threshold, low=0.0, high=1.0, high_inclusive=False)
    iou = check_float("iou_threshold", iou_threshold, low=0.0, high=1.0)
    detections = check_int("max_detections", max_detections, low=1)
    hard_swish = check_choice("hard_swish", hard_swish, ("auto", "fused", "decomposed"))
    check_bool("absorb_shuffle", absorb_shuffle)
    if keras.backend.backend() != "tensorflow":
        raise ValueError("detector_to_tflite needs the TensorFlow backend (KERAS_BACKEND=tensorflow).")
    path = check_output_path(path, overwrite, suffix=".tflite")
    shape = (1, *model.input_shape[1:])
    if None in shape:
        raise ValueError(f"The detector needs a fixed input size; its input shape is {model.input_shape}.")
    calibration = None
    if quantization == "int8" and not is_quantize_aware(model):  # a quantization-aware model brings its ranges
        calibration = calibration_samples(representative_data, shape, check_int("num_calibration", num_calibration, low=1))
    classes = int(model.outputs[1].shape[-1]) - 1
    anchors = tf.constant(tflite_anchors(ssdlite_anchors(model), shape[1:3]))

    @tf.function(experimental_implements=_signature(classes, score, iou, detections, detections))
    def detection_postprocess(box_encodings: Any, class_predictions: Any, anchor_boxes: Any) -> Any:
        placeholder = tf.constant(0.0, tf.float32)  # replaced by the TFLite op when converting
        return placeholder, placeholder, placeholder, placeholder

    graph = tflite_graph(model, quantization, hard_swish, absorb_shuffle)

    def serve(image: Any) -> dict[str, Any]:
        codes, logits = graph(image, training=False)
        codes = tf.gather(codes, [1, 0, 3, 2], axis=-1)  # (dx, dy, dw, dh) -> the op's (dy, dx, dh, dw)
        found = detection_postprocess(codes, tf.nn.softmax(logits, axis=-1), anchors)
        return dict(zip(DETECTION_OUTPUTS, found))

    archive = keras.export.ExportArchive()
    archive.track(graph)
    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])
    with tempfile.TemporaryDirectory() as folder, atomic_target(path) as target, quiet_native_logs():
        archive.write_out(os.path.join(folder, "saved"), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(folder, "saved"))
        for key, value in converter_options(quantization, calibration, False).items():
            if key == "target_spec":
                for spec_key, spec_value in value.items():
                    setattr(converter.target_spec, spec_key, spec_value)
            else:
                setattr(converter, key, value)
        converter.allow_custom_ops = True
        with open(target, "wb") as file:
            file.write(converter.convert())
        order_outputs(target, list(DETECTION_OUTPUTS))
    names = getattr(model, "class_names", None)
    if names:
        with atomic_target(labels_path(path)) as labels, open(labels, "w", encoding="utf-8") as file:
            file.write("".join(f"{name}\n" for name in names))
    return TFLiteReport(path=path, quantization=quantization, size_bytes=os.path.getsize(path), ops=tflite_ops(path),
                        input_shape=shape, comparison=None)


register_tflite_writer("detection", detector_to_tflite)
