"""Object detection (SSDLite), layered above the models: anchors, box coding, matching, loss.

Work in progress towards issue 24: the pieces below are exact to torchvision's
``DefaultBoxGenerator``, ``BoxCoder``, ``SSDMatcher`` and ``SSD.compute_loss``
and tested against them; the SSDLite model, post-processing and export follow.
"""

from keras_lightnets.detection.anchors import default_boxes
from keras_lightnets.detection.boxes import BOX_WEIGHTS, box_iou, decode_boxes, encode_boxes
from keras_lightnets.detection.loss import match_anchors, ssd_losses

__all__ = ["BOX_WEIGHTS", "box_iou", "decode_boxes", "default_boxes", "encode_boxes", "match_anchors", "ssd_losses"]
