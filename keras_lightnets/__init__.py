"""keras_lightnets: exact lightweight ConvNets (MobileNetV1/V2/V3, ShuffleNetV1/V2) for Keras 3, built to train and ship to TFLite.

Example:
    >>> from keras_lightnets import MobileNetV3Large, count_macs
    >>> model = MobileNetV3Large(input_shape=(224, 224, 3))
    >>> model.count_params()
    5507432
"""

from keras_lightnets import blocks, layers
from keras_lightnets.convert import from_torchvision
from keras_lightnets.features import backbone, feature_info
from keras_lightnets.macs import count_macs
from keras_lightnets.models import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small, ShuffleNetV1, ShuffleNetV2
from keras_lightnets.registry import create_model, list_models

__version__ = "0.1.0"

__all__ = [
    "MobileNetV1", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "ShuffleNetV1", "ShuffleNetV2",
    "backbone",
    "blocks",
    "count_macs",
    "create_model",
    "feature_info",
    "from_torchvision",
    "layers",
    "list_models",
]
