"""The registered detectors: ``create_model("ssdlite_mobilenet_v3_large", num_classes=...)`` and the rest.

Importing :mod:`keras_lightnets.detection` (which ``import keras_lightnets``
does) adds them to :mod:`keras_lightnets.registry`. Parameters and MAdds are
recorded at the :func:`~keras_lightnets.detection.SSDLite` defaults (320x320,
90 classes + background: COCO's); a test rebuilds every one and compares.
MobileNetV3 backbones have the reduced tail by default, as in the MobileNetV3
paper's SSDLite and torchvision's detector; trained from backbone weights
(which have the full tail) they are built with ``reduced_tail=False``, as
torchvision does.
"""

from __future__ import annotations

from typing import Any

from keras_lightnets.detection.ssdlite import SSDLite
from keras_lightnets.registry import ModelEntry, register_model

__all__ = ["DETECTORS"]

# name -> (fixed SSDLite arguments, Keras params, trainable, MAdds, reference MAdds)
DETECTORS: dict[str, tuple[dict[str, Any], int, int, int, str]] = {
    "ssdlite320_mobilenet_v3_large": (
        {"backbone_name": "mobilenet_v3_large", "padding": "symmetric"},
        3473004, 3440060, 583171904, "583 M (torchvision)",
    ),
    "ssdlite_mobilenet_v1": ({"backbone_name": "mobilenet_v1"}, 5430364, 5393116, 1380794304, ""),
    "ssdlite_mobilenet_v2": ({"backbone_name": "mobilenet_v2"}, 4715740, 4664988, 870061504, ""),
    "ssdlite_mobilenet_v3_large": (
        {"backbone_name": "mobilenet_v3_large"}, 3473004, 3440060, 583171904, "",
    ),
    "ssdlite_mobilenet_v3_small": (
        {"backbone_name": "mobilenet_v3_small"}, 1888572, 1868108, 195135424, "",
    ),
    "ssdlite_mobilenet_v4_conv_small": ({"backbone_name": "mobilenet_v4_conv_small"}, 3183228, 3147260, 493427904, ""),
    "ssdlite_mobilenet_v4_conv_medium": ({"backbone_name": "mobilenet_v4_conv_medium"}, 9205676, 9126636, 1817959104, ""),
    "ssdlite_shufflenet_v2_x1_0": ({"backbone_name": "shufflenet_v2_x1_0"}, 3304404, 3273984, 449974304, ""),
}

for _name, (_fixed, _params, _trainable, _macs, _reference) in DETECTORS.items():
    # torchvision's rule: the reduced tail unless backbone weights are loaded (they have the full tail).
    _defaults = {"reduced_tail": True} if _fixed["backbone_name"].startswith("mobilenet_v3") else {}
    register_model(ModelEntry(
        _name, SSDLite, _fixed, "ssdlite", _params, _trainable, _macs, _reference, (), "detection", _defaults
    ))
