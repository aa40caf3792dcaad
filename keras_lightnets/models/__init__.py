"""One module per family: its table of block settings and a short walker."""

from keras_lightnets.models.mobilenet_v1 import MobileNetV1
from keras_lightnets.models.mobilenet_v2 import MobileNetV2
from keras_lightnets.models.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from keras_lightnets.models.mobilenet_v4 import MobileNetV4
from keras_lightnets.models.shufflenet_v1 import ShuffleNetV1
from keras_lightnets.models.shufflenet_v2 import ShuffleNetV2

__all__ = [
    "MobileNetV1",
    "MobileNetV2",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "MobileNetV4",
    "ShuffleNetV1",
    "ShuffleNetV2",
]
