"""What every model function shares: argument checks, the input, the pooled
or classifier output, and loading a weights file.

All checks run before the first layer is built.
"""

from __future__ import annotations

import os
from typing import Any

import keras
from keras import layers

from keras_lightnets.blocks import PADDINGS
from keras_lightnets.layers import activation_layer
from keras_lightnets.weights import ImagenetFile, imagenet_file, load_imagenet, load_weights
from keras_lightnets.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_path,
)

__all__ = [
    "FEATURE_REDUCTIONS",
    "StrideTracker",
    "build_input",
    "conv_classifier",
    "dense_classifier",
    "finish_model",
    "model_args",
    "pool_features",
    "validate_model_args",
]

MIN_SIZE = 32
POOLING_CHOICES = (None, "avg", "max")
FEATURE_REDUCTIONS = (2, 4, 8, 16, 32)  # out_indices 0..4
OUTPUT_STRIDES = (8, 16, 32)
WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".keras")


def _check_input_shape(input_shape: Any) -> tuple[int | None, int | None, int]:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be a tuple (height, width, channels) of 3 entries "
            f"(height/width may be None); received {input_shape!r}."
        )
    height, width, channels = input_shape
    for axis, value in (("height", height), ("width", width)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                f"`input_shape` {axis} must be an int or None; received {value!r} "
                f"in input_shape={input_shape!r}."
            )
        if value < MIN_SIZE:
            raise ValueError(
                f"`input_shape` must be at least {MIN_SIZE}x{MIN_SIZE}; received "
                f"input_shape={input_shape!r}."
            )
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"`input_shape` channels must be an int >= 1 (channels-last); received "
            f"input_shape={input_shape!r}."
        )
    return height, width, channels


def _check_classifier_activation(value: Any) -> Any:
    if value is None or callable(value):
        return value
    if not isinstance(value, str):
        raise TypeError(
            "`classifier_activation` must be None, a string or a callable; "
            f"received {value!r} of type {type(value).__name__}."
        )
    try:
        keras.activations.get(value)
    except ValueError:
        raise ValueError(
            "`classifier_activation` must name a Keras activation (e.g. 'softmax', "
            f"'sigmoid', 'linear') or be None; received {value!r}."
        ) from None
    return value


def _check_weights(weights: Any) -> str | None:
    if weights is None or weights == "imagenet":
        return weights
    if isinstance(weights, str) and not os.path.exists(weights):
        raise ValueError(
            "`weights` must be None (random initialization), 'imagenet' (pre-training on "
            f"ImageNet) or the path of an existing weights file ({', '.join(WEIGHTS_SUFFIXES)}); "
            f"received {weights!r}."
        )
    path = check_path("weights", weights, must_exist=True)
    if not path.endswith(WEIGHTS_SUFFIXES):
        raise ValueError(
            f"`weights` file must end with one of {WEIGHTS_SUFFIXES}; received {path!r}."
        )
    return path


def validate_model_args(
    *,
    input_shape: Any,
    include_top: Any,
    weights: Any,
    input_tensor: Any,
    pooling: Any,
    classes: Any,
    classifier_activation: Any,
    include_preprocessing: Any,
    dropout: Any,
    bn_momentum: Any,
    bn_epsilon: Any,
    name: Any,
    default_shape: tuple[int | None, int | None, int],
    features_only: Any = False,
    out_indices: Any = None,
    output_stride: Any = 32,
    padding: Any = "same",
) -> dict[str, Any]:
    """Check the arguments shared by every model; return the normalized values.

    ``input_shape`` defaults to the shape of ``input_tensor`` when one is given,
    else to ``default_shape``.
    """
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_lightnets models are channels-last only; "
            f"keras.config.image_data_format() is {keras.config.image_data_format()!r}. "
            "Call keras.config.set_image_data_format('channels_last')."
        )
    check_bool("include_top", include_top)
    check_bool("include_preprocessing", include_preprocessing)
    classes = check_int("classes", classes, low=1)
    check_choice("pooling", pooling, POOLING_CHOICES)
    dropout = check_float("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
    bn_momentum = check_float(
        "bn_momentum", bn_momentum, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    bn_epsilon = check_float("bn_epsilon", bn_epsilon, low=0.0, low_inclusive=False)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"`name` must be a str or None; received {name!r}.")
    classifier_activation = _check_classifier_activation(classifier_activation)
    weights = _check_weights(weights)
    check_bool("features_only", features_only)
    check_choice("padding", padding, PADDINGS)
    output_stride = check_choice("output_stride", check_int("output_stride", output_stride), OUTPUT_STRIDES)
    out_indices = _check_out_indices(out_indices, output_stride)
    if features_only and (include_top or pooling is not None):
        raise ValueError(
            "`features_only=True` returns feature maps: it needs include_top=False and "
            f"pooling=None; received include_top={include_top!r}, pooling={pooling!r}."
        )
    if input_tensor is not None:
        if not isinstance(input_tensor, keras.KerasTensor):
            raise TypeError(
                "`input_tensor` must be a symbolic Keras tensor (e.g. keras.Input(...)); "
                f"received {type(input_tensor).__name__}."
            )
        if len(input_tensor.shape) != 4:
            raise ValueError(
                "`input_tensor` must be 4-D (batch, height, width, channels); "
                f"received shape {input_tensor.shape}."
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                f"`input_shape` {tuple(input_shape)!r} does not match `input_tensor` "
                f"shape {tensor_shape!r}."
            )
        input_shape = tensor_shape
    if input_shape is None:
        input_shape = default_shape
    input_shape = _check_input_shape(input_shape)
    return dict(
        input_shape=input_shape,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        include_preprocessing=include_preprocessing,
        dropout=dropout,
        bn_momentum=bn_momentum,
        bn_epsilon=bn_epsilon,
        name=name,
        features_only=features_only,
        out_indices=out_indices,
        output_stride=output_stride,
        padding=padding,
    )


# Arguments every model function shares, checked by validate_model_args.
SHARED_ARGUMENTS = (
    "input_shape", "include_top", "weights", "input_tensor", "pooling", "classes",
    "classifier_activation", "include_preprocessing", "dropout", "bn_momentum", "bn_epsilon",
    "name", "features_only", "out_indices", "output_stride", "padding",
)


def model_args(
    arguments: dict[str, Any], default_shape: tuple[int | None, int | None, int], family: str
) -> dict[str, Any]:
    """:func:`validate_model_args` on the shared entries of a model function's ``locals()``.

    MobileNetV3's ``dropout_rate`` is read as ``dropout``. ``weights="imagenet"``
    becomes the :class:`~keras_lightnets.weights.ImagenetFile` of ``family``
    (checked against the published widths and sizes before anything is built).
    """
    shared = {key: arguments[key] for key in SHARED_ARGUMENTS if key in arguments}
    if "dropout_rate" in arguments:
        shared["dropout"] = arguments["dropout_rate"]
    args = validate_model_args(default_shape=default_shape, **shared)
    if args["weights"] == "imagenet":
        args["weights"] = imagenet_file(
            family,
            alpha=arguments.get("alpha", 1.0),
            depth_multiplier=arguments.get("depth_multiplier", 1),
            minimalistic=arguments.get("minimalistic", False),
            input_shape=args["input_shape"],
            include_top=args["include_top"],
            classes=args["classes"],
            padding=args["padding"],
        )
    return args


def _check_out_indices(out_indices: Any, output_stride: int) -> tuple[int, ...]:
    reachable = tuple(i for i, r in enumerate(FEATURE_REDUCTIONS) if r <= output_stride)
    if out_indices is None:
        return reachable
    if not isinstance(out_indices, (tuple, list)) or not out_indices:
        raise ValueError(
            "`out_indices` must be a non-empty tuple of indices into the reductions "
            f"{FEATURE_REDUCTIONS} (0..4); received {out_indices!r}."
        )
    indices = tuple(check_int("out_indices", i, low=0, high=len(FEATURE_REDUCTIONS) - 1) for i in out_indices)
    if list(indices) != sorted(set(indices)):
        raise ValueError(f"`out_indices` must be sorted and unique; received {out_indices!r}.")
    if indices[-1] not in reachable:
        raise ValueError(
            f"`out_indices` {indices} asks for reduction {FEATURE_REDUCTIONS[indices[-1]]}, beyond "
            f"output_stride={output_stride}; allowed indices: {reachable}."
        )
    return indices


class StrideTracker:
    """Walks strides for a model: dilation for ``output_stride`` and feature taps.

    ``step(stride)`` returns the ``(stride, dilation_rate)`` a layer should use:
    once the reduction reaches ``output_stride`` strides become 1 and later
    layers are dilated instead (the TF-slim / DeepLab rule: the layer whose
    stride is removed keeps the current rate, the ones after it get
    ``rate * stride``). ``tap(x)`` records ``x`` as a feature map at the
    current reduction.
    """

    def __init__(self, output_stride: int = 32) -> None:
        self.output_stride = output_stride
        self.reduction = 1
        self.rate = 1
        self.taps: list[tuple[int, Any]] = []

    def step(self, stride: int) -> tuple[int, int]:
        if self.reduction == self.output_stride:
            rate = self.rate
            self.rate *= stride
            return 1, rate
        self.reduction *= stride
        return stride, 1

    def tap(self, x: Any) -> Any:
        self.taps.append((self.reduction, x))
        return x

    def features(self, out_indices: tuple[int, ...]) -> list[Any]:
        """The last tapped map at each reduction named by ``out_indices``."""
        last: dict[int, Any] = {}
        for reduction, x in self.taps:
            last[reduction] = x
        wanted = [FEATURE_REDUCTIONS[i] for i in out_indices]
        missing = [r for r in wanted if r not in last]
        if missing:
            raise ValueError(
                f"`out_indices` {out_indices} asks for reductions {missing} that this model "
                f"does not reach (it reaches {sorted(last)}); lower `out_indices` or raise "
                "`output_stride`."
            )
        return [last[r] for r in wanted]


def build_input(args: dict[str, Any]) -> tuple[Any, Any]:
    """Return ``(model_input, x)``: the Input and the tensor the stem starts from.

    ``x`` is rescaled from [0, 255] to [-1, 1] when ``include_preprocessing``.
    """
    inputs = args["input_tensor"]
    if inputs is None:
        inputs = keras.Input(shape=args["input_shape"], name="input")
    x = inputs
    if args["include_preprocessing"]:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name="rescaling")(x)
    return inputs, x


def pool_features(x: Any, pooling: str | None) -> Any:
    """Apply the ``pooling`` of an ``include_top=False`` model."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish_model(
    inputs: Any,
    outputs: Any,
    args: dict[str, Any],
    default_name: str,
    tracker: StrideTracker | None = None,
) -> keras.Model:
    """Wrap the graph in a functional ``keras.Model`` and load ``weights``.

    With ``features_only`` the outputs are the tapped feature maps of
    ``tracker`` (the weights file is loaded into the full ``include_top=False``
    graph first, so a no-top weights file serves both) and the model gets a
    ``feature_info`` attribute, recomputable from a saved copy with
    :func:`keras_lightnets.feature_info`.
    """
    name = args["name"] or default_name
    model = keras.Model(inputs, outputs, name=name)
    if isinstance(args["weights"], ImagenetFile):
        load_imagenet(model, args["weights"])
    elif args["weights"] is not None:
        load_weights(model, args["weights"])
    if args["features_only"]:
        from keras_lightnets.features import feature_info

        model = keras.Model(inputs, tracker.features(args["out_indices"]), name=name)
        model.feature_info = feature_info(model)
    return model


def conv_classifier(
    x: Any,
    args: dict[str, Any],
    *,
    hidden: int | None = None,
    hidden_activation: str | None = None,
) -> Any:
    """Classifier on 1x1 convolutions (MobileNetV1 / V3 heads).

    Global average pool (kept 4-D) -> [1x1 conv ``hidden`` with bias ->
    ``hidden_activation``] -> dropout -> 1x1 conv to ``classes`` -> flatten ->
    ``classifier_activation``.
    """
    x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
    if hidden is not None:
        x = layers.Conv2D(hidden, 1, use_bias=True, name="pre_logits")(x)
        if hidden_activation is not None:
            x = activation_layer(hidden_activation, name="pre_logits_act")(x)
    if args["dropout"] > 0:
        x = layers.Dropout(args["dropout"], name="dropout")(x)
    x = layers.Conv2D(args["classes"], 1, use_bias=True, name="logits")(x)
    x = layers.Flatten(name="flatten")(x)
    # float32 output also under a mixed-precision policy.
    return layers.Activation(args["classifier_activation"], dtype="float32", name="predictions")(x)



def dense_classifier(x: Any, args: dict[str, Any]) -> Any:
    """Classifier on a dense layer (MobileNetV2 / ShuffleNet heads).

    Global average pool -> dropout (when > 0) -> ``Dense(classes)`` with
    ``classifier_activation``.
    """
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if args["dropout"] > 0:
        x = layers.Dropout(args["dropout"], name="dropout")(x)
    return layers.Dense(  # float32 output also under a mixed-precision policy
        args["classes"], activation=args["classifier_activation"], dtype="float32", name="predictions"
    )(x)
