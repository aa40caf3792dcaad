"""Pretrained weights, one job per module (none of them imports a model):

* :mod:`~keras_lightnets.weights.catalogue`: which published file serves which
  variant (URL, hash, top-1, preprocessing);
* :mod:`~keras_lightnets.weights.cache`: download once, hash-checked, into
  ``$KERAS_HOME/models``;
* :mod:`~keras_lightnets.weights.loading`: all-or-nothing loading of ``.h5`` /
  ``.weights.h5`` / ``.keras`` files into a built model.

Converting other frameworks' checkpoints (torchvision) is
:mod:`keras_lightnets.convert`.
"""

from keras_lightnets.deprecation import moved_from
from keras_lightnets.weights.cache import cache_dir, fetch
from keras_lightnets.weights.catalogue import (
    IMAGENET_SIZES,
    Pretrained,
    WeightsFile,
    imagenet_class_names,
    imagenet_file,
    pretrained_for,
)
from keras_lightnets.weights.loading import WEIGHTS_SUFFIXES, load_imagenet, load_weights, read_h5

__all__ = [
    "IMAGENET_SIZES",
    "Pretrained",
    "WEIGHTS_SUFFIXES",
    "WeightsFile",
    "cache_dir",
    "fetch",
    "imagenet_class_names",
    "imagenet_file",
    "load_imagenet",
    "load_weights",
    "read_h5",
    "pretrained_for",
]

__getattr__ = moved_from("keras_lightnets.weights")  # names that moved from here (keras_lightnets.deprecation.MOVED)
