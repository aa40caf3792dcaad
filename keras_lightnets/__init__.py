"""keras_lightnets: exact lightweight ConvNets (MobileNetV1/V2/V3/V4, ShuffleNetV1/V2) for Keras 3, built to train and ship to TFLite.

Examples:
    >>> from keras_lightnets import MobileNetV3Large, count_macs
    >>> model = MobileNetV3Large(input_shape=(224, 224, 3))
    >>> model.count_params()
    5507432
"""

import os as _os

# Quiet by default: TensorFlow's C++ INFO/WARNING lines (e.g. ~40 per TFLite conversion)
# stay off unless the user sets TF_CPP_MIN_LOG_LEVEL (0 shows everything) before importing.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow 2.21 logs a few lines while it is imported, before absl's logging reads that
# level (tensorflow/tensorflow#100442): they are filtered from the import's stderr.
from keras_lightnets.files import quiet_native_logs as _quiet_native_logs  # noqa: E402

with _quiet_native_logs():
    import keras as _keras  # noqa: E402

    if _keras.backend.backend() == "tensorflow":  # CUDA's probe for a GPU (it logs an error without one) runs here
        import tensorflow as _tf

        _tf.config.list_physical_devices("GPU")

BACKENDS = ("tensorflow", "jax", "torch")
if _keras.backend.backend() not in BACKENDS:
    raise ImportError(
        f"keras_lightnets runs on the Keras backends {', '.join(BACKENDS)}; KERAS_BACKEND is "
        f"{_keras.backend.backend()!r}. Set KERAS_BACKEND to one of them before importing keras "
        "(tensorflow to train and export, jax or torch to train; export works from all three)."
    )

from keras_lightnets import blocks, layers  # noqa: E402
from keras_lightnets.convert import from_timm, from_torchvision  # noqa: E402
from keras_lightnets.features import backbone, feature_info  # noqa: E402
from keras_lightnets.macs import count_macs  # noqa: E402
from keras_lightnets.models import (  # noqa: E402
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    MobileNetV4,
    ShuffleNetV1,
    ShuffleNetV2,
)
from keras_lightnets.registry import create_model, list_models  # noqa: E402
from keras_lightnets import detection  # noqa: E402  (registers the ssdlite_* detectors)
from keras_lightnets import segmentation  # noqa: E402  (registers the lraspp_* and deeplabv3_* segmenters)

__version__ = "0.2.0"

__all__ = [
    "MobileNetV1", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "MobileNetV4", "ShuffleNetV1", "ShuffleNetV2",
    "backbone",
    "blocks",
    "count_macs",
    "create_model",
    "detection",
    "segmentation",
    "feature_info",
    "from_timm",
    "from_torchvision",
    "layers",
    "list_models",
]
