"""Object detection (SSDLite), layered above the models: anchors, box coding, matching, loss.

Work in progress towards issue 24. Exact to torchvision and tested against it:
``DefaultBoxGenerator`` (:func:`default_boxes`), ``BoxCoder`` (:func:`encode_boxes`,
:func:`decode_boxes`), ``SSDMatcher`` (:func:`match_anchors`), ``SSD.compute_loss``
(:func:`ssd_losses`), ``postprocess_detections`` (:func:`postprocess`) and
``ssdlite320_mobilenet_v3_large`` (:func:`SSDLite`,
:func:`ssdlite_from_torchvision`: parameters and raw head outputs); :func:`detector_to_tflite` writes the TFLite
object-detector file (LiteRT's ``TFLite_Detection_PostProcess``). The registry names,
predict and training follow.
"""

from keras_lightnets.detection.anchors import default_boxes
from keras_lightnets.detection.boxes import BOX_WEIGHTS, box_iou, decode_boxes, encode_boxes
from keras_lightnets.detection.convert import ssdlite_from_torchvision
from keras_lightnets.detection.export import DETECTION_OUTPUTS, detector_to_tflite, tflite_anchors
from keras_lightnets.detection.loss import match_anchors, ssd_losses
from keras_lightnets.detection.postprocess import Detections, nms, postprocess
from keras_lightnets.detection.ssdlite import SSDLite, extra_block, prediction_head, ssdlite_anchors
from keras_lightnets.detection.zoo import DETECTORS
from keras_lightnets.detection.data import LAYOUTS, DetectionData, detection_folder
from keras_lightnets.detection.evaluate import DetectionReport, coco_evaluate
from keras_lightnets.detection.loss import SSDLoss
from keras_lightnets.detection.task import DetectionTask

__all__ = [
    "BOX_WEIGHTS", "DETECTION_OUTPUTS", "DETECTORS", "LAYOUTS", "DetectionData", "DetectionReport", "DetectionTask",
    "SSDLoss", "coco_evaluate", "detection_folder", "Detections", "SSDLite", "box_iou", "decode_boxes", "default_boxes", "detector_to_tflite", "encode_boxes", "extra_block",
    "match_anchors", "nms", "postprocess", "prediction_head", "ssd_losses", "ssdlite_anchors", "ssdlite_from_torchvision", "tflite_anchors",
]
