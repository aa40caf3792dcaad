"""The few registered custom layers the networks need.

Everything here is a plain ``keras.layers.Layer`` subclass registered under the
``keras_lightnets`` package, so models that use them save to ``.keras`` and
reload with ``keras.saving.load_model(path, safe_mode=True)``: no ``Lambda``.

The hard activations are written as ``relu6(x + 3) / 6`` (multiplied by the
constant ``1/6``) because that is the exact definition of the MobileNetV3 paper
and the form the TFLite converter fuses into its ``HARD_SWISH`` kernel.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from keras_lightnets.validation import check_choice

__all__ = ["ACTIVATIONS", "HardSigmoid", "HardSwish", "activation_layer"]

_PACKAGE = "keras_lightnets"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSigmoid(layers.Layer):
    """Hard sigmoid of MobileNetV3: ``relu6(x + 3) / 6``.

    Used as the squeeze-and-excitation gate. Output is in [0, 1].

    Example:
        >>> import numpy as np
        >>> HardSigmoid()(np.array([-4.0, 0.0, 4.0])).numpy().tolist()
        [0.0, 0.5, 1.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return ops.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSwish(layers.Layer):
    """Hard swish of MobileNetV3: ``x * relu6(x + 3) / 6``.

    Example:
        >>> import numpy as np
        >>> HardSwish()(np.array([-4.0, 0.0, 4.0])).numpy().tolist()
        [-0.0, 0.0, 4.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return inputs * ops.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


#: Activation names accepted by the block builders.
ACTIVATIONS = ("relu", "relu6", "hard_swish", "hard_sigmoid")


def activation_layer(kind: str, name: str) -> layers.Layer:
    """Return a fresh activation layer for ``kind``.

    Args:
        kind: one of ``"relu"``, ``"relu6"``, ``"hard_swish"``,
            ``"hard_sigmoid"``.
        name: the layer name.

    Example:
        >>> activation_layer("relu6", name="stem_act").max_value
        6.0
    """
    check_choice("activation", kind, ACTIVATIONS)
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)
    if kind == "hard_swish":
        return HardSwish(name=name)
    return HardSigmoid(name=name)
