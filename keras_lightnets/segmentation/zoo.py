"""The registered segmenters: ``create_model("lraspp_mobilenet_v3_large", num_classes=...)`` and the rest.

Importing :mod:`keras_lightnets.segmentation` (which ``import keras_lightnets``
does) adds them to :mod:`keras_lightnets.registry`. Parameters and MAdds are
recorded at the function defaults (512x512, 21 classes: Pascal VOC's); a test
rebuilds every one and compares. The two names torchvision has are built as
torchvision builds them (PyTorch's symmetric padding, the strided block of the
dilated stage dilated too, ASPP rates (12, 24, 36)), so its checkpoints load
exactly; the others use ``"same"`` padding and the paper's rates.
"""

from __future__ import annotations

from typing import Any

from keras_lightnets.registry import ModelEntry, register_model
from keras_lightnets.segmentation.models import LRASPP, DeepLabV3

__all__ = ["SEGMENTERS"]

BACKBONES = (
    "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v4_conv_small",
    "mobilenet_v4_conv_medium", "shufflenet_v2_x1_0",
)
# torchvision's builds of its two names.
TORCHVISION = {
    "lraspp_mobilenet_v3_large": ({"padding": "symmetric", "dilate_strided": True}, "2086 M at 520x520 (torchvision)"),
    "deeplabv3_mobilenet_v3_large": (
        {"padding": "symmetric", "dilate_strided": True, "atrous_rates": (12, 24, 36)}, "10452 M at 520x520, aux head included (torchvision)",
    ),
}
# name -> (Keras params, trainable, MAdds) at 512x512x3, 21 classes.
METRICS: dict[str, tuple[int, int, int]] = {
    "lraspp_mobilenet_v2": (2589578, 2555210, 2981396480),
    "lraspp_mobilenet_v3_large": (3246194, 3221538, 1974665088),
    "lraspp_mobilenet_v3_small": (1090322, 1077954, 634732544),
    "lraspp_mobilenet_v4_conv_small": (1535210, 1512426, 1773592576),
    "lraspp_mobilenet_v4_conv_medium": (7519178, 7453578, 8584880128),
    "lraspp_shufflenet_v2_x1_0": (1537606, 1521170, 1610674176),
    "deeplabv3_mobilenet_v2": (12690773, 12653077, 13140295680),
    "deeplabv3_mobilenet_v3_large": (11053461, 11025477, 9825968000),
    "deeplabv3_mobilenet_v3_small": (6145413, 6129717, 5719121920),
    "deeplabv3_mobilenet_v4_conv_small": (9341301, 9315189, 9620078592),
    "deeplabv3_mobilenet_v4_conv_medium": (15325605, 15256677, 16432742400),
    "deeplabv3_shufflenet_v2_x1_0": (9802029, 9782265, 9916821504),
}

SEGMENTERS: dict[str, Any] = {}
for _head, _builder in (("lraspp", LRASPP), ("deeplabv3", DeepLabV3)):
    for _backbone in BACKBONES:
        _name = f"{_head}_{_backbone}"
        _defaults, _reference = TORCHVISION.get(_name, ({}, ""))
        _params, _trainable, _macs = METRICS[_name]
        SEGMENTERS[_name] = _builder
        register_model(ModelEntry(
            _name, _builder, {"backbone_name": _backbone}, _head, _params, _trainable, _macs, _reference, (),
            "segmentation", _defaults,
        ))
