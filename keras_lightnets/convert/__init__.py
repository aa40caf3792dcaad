"""Checkpoint conversion from other frameworks into exact Keras models.

:mod:`~keras_lightnets.convert.mapping` is the shared mechanism (key plan,
layout, shape checks, one report of missing/unexpected/misshapen keys, all or
nothing); one module per source names the keys (torchvision, timm).
"""

from keras_lightnets.convert.timm import TIMM_MODELS, from_timm
from keras_lightnets.convert.torchvision import TORCHVISION_MODELS, from_torchvision

__all__ = ["TIMM_MODELS", "TORCHVISION_MODELS", "from_timm", "from_torchvision"]
