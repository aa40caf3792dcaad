"""The arguments every model function shares, declared once: type, default, description, check.

:data:`SHARED_PARAMETERS` declares each shared argument's type and default,
:data:`SHARED_ARGS` its description, :meth:`ModelArgs.check` its check.
:func:`model_function` turns a family's builder, ``build(args, **family)``, into
the public model function: its signature (the family's own arguments and the
shared ones, in the order ``keras.applications`` uses for that family, with
the family's defaults), its docstring (the shared descriptions written in by
:func:`shared_args_doc`) and the checking of every argument before any layer is
built. The walkers then read typed attributes (``args.include_top``, ``args.norm``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from typing import Any, Callable, TypeVar

import keras

from keras_lightnets.blocks import KERAS_BN_EPSILON, KERAS_BN_MOMENTUM, PADDINGS
from keras_lightnets.validation import check_bool, check_choice, check_float, check_int, check_path
from keras_lightnets.weights import WEIGHTS_SUFFIXES, WeightsFile, imagenet_file

__all__ = [
    "ANY_SIZE",
    "CLASSIFIER_SIZE",
    "FEATURE_REDUCTIONS",
    "OUTPUT_STRIDES",
    "SHARED_ARGS",
    "SHARED_PARAMETERS",
    "ModelArgs",
    "model_function",
    "shared_args_doc",
]

MIN_SIZE = 32
POOLING_CHOICES = (None, "avg", "max")
FEATURE_REDUCTIONS = (2, 4, 8, 16, 32)  # out_indices 0..4
OUTPUT_STRIDES = (8, 16, 32)
# Default input shapes: keras.applications' V1/V2 default to 224x224 with the top
# and any size without it; its V3 to any size.
CLASSIFIER_SIZE = "224 with the top"
ANY_SIZE = "any"

Shape = tuple[int | None, int | None, int]


def _check_input_shape(input_shape: Any) -> Shape:
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
        raise ValueError(f"`weights` file must end with one of {WEIGHTS_SUFFIXES}; received {path!r}.")
    return path


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


def _check_input_tensor(input_tensor: Any, input_shape: Any) -> Any:
    """``input_shape`` implied by ``input_tensor`` (checked against a given one)."""
    if not isinstance(input_tensor, keras.KerasTensor):
        raise TypeError(
            "`input_tensor` must be a symbolic Keras tensor (e.g. keras.Input(...)); "
            f"received {type(input_tensor).__name__}."
        )
    if len(input_tensor.shape) != 4:
        raise ValueError(
            f"`input_tensor` must be 4-D (batch, height, width, channels); received shape {input_tensor.shape}."
        )
    tensor_shape = tuple(input_tensor.shape[1:])
    if input_shape is not None and tuple(input_shape) != tensor_shape:
        raise ValueError(
            f"`input_shape` {tuple(input_shape)!r} does not match `input_tensor` shape {tensor_shape!r}."
        )
    return tensor_shape


@dataclasses.dataclass(frozen=True)
class ModelArgs:
    """The checked shared arguments of a model function (see :data:`SHARED_ARGS`).

    Build it with :meth:`check`; ``weights`` is then None, a file path, or the
    :class:`~keras_lightnets.weights.WeightsFile` that ``"imagenet"`` names.
    """

    input_shape: Shape
    include_top: bool
    weights: str | WeightsFile | None
    input_tensor: Any
    pooling: str | None
    classes: int
    classifier_activation: Any
    include_preprocessing: bool
    dropout: float
    bn_momentum: float
    bn_epsilon: float
    features_only: bool
    out_indices: tuple[int, ...]
    output_stride: int
    padding: str
    name: str | None

    @property
    def norm(self) -> dict[str, Any]:
        """The BatchNorm and padding keywords every block builder takes."""
        return {"bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon, "padding": self.padding}

    @classmethod
    def check(
        cls,
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
        features_only: Any,
        out_indices: Any,
        output_stride: Any,
        padding: Any,
        name: Any,
        default_size: str,
    ) -> ModelArgs:
        """Check every shared argument (before any layer is built); return the typed object.

        ``input_shape`` defaults to the shape of ``input_tensor`` when one is
        given, else to 224x224x3 with the top (``default_size=CLASSIFIER_SIZE``)
        or ``(None, None, 3)``.

        Examples:
            >>> args = ModelArgs.check(input_shape=None, include_top=True, weights=None,
            ...     input_tensor=None, pooling=None, classes=10, classifier_activation="softmax",
            ...     include_preprocessing=False, dropout=0.0, bn_momentum=0.99, bn_epsilon=1e-3,
            ...     features_only=False, out_indices=None, output_stride=32, padding="same", name=None,
            ...     default_size=CLASSIFIER_SIZE)
            >>> args.input_shape, args.classes
            ((224, 224, 3), 10)
        """
        if keras.config.image_data_format() != "channels_last":
            raise ValueError(
                "keras_lightnets models are channels-last only; "
                f"keras.config.image_data_format() is {keras.config.image_data_format()!r}. "
                "Call keras.config.set_image_data_format('channels_last')."
            )
        check_bool("include_top", include_top)
        check_bool("include_preprocessing", include_preprocessing)
        check_choice("pooling", pooling, POOLING_CHOICES)
        check_bool("features_only", features_only)
        check_choice("padding", padding, PADDINGS)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str or None; received {name!r}.")
        output_stride = check_choice("output_stride", check_int("output_stride", output_stride), OUTPUT_STRIDES)
        if features_only and (include_top or pooling is not None):
            raise ValueError(
                "`features_only=True` returns feature maps: it needs include_top=False and "
                f"pooling=None; received include_top={include_top!r}, pooling={pooling!r}."
            )
        if input_tensor is not None:
            input_shape = _check_input_tensor(input_tensor, input_shape)
        if input_shape is None:
            input_shape = (224, 224, 3) if default_size == CLASSIFIER_SIZE and include_top else (None, None, 3)
        return cls(
            input_shape=_check_input_shape(input_shape),
            include_top=include_top,
            weights=_check_weights(weights),
            input_tensor=input_tensor,
            pooling=pooling,
            classes=check_int("classes", classes, low=1),
            classifier_activation=_check_classifier_activation(classifier_activation),
            include_preprocessing=include_preprocessing,
            dropout=check_float("dropout", dropout, low=0.0, high=1.0, high_inclusive=False),
            bn_momentum=check_float(
                "bn_momentum", bn_momentum, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
            ),
            bn_epsilon=check_float("bn_epsilon", bn_epsilon, low=0.0, low_inclusive=False),
            features_only=features_only,
            out_indices=_check_out_indices(out_indices, output_stride),
            output_stride=output_stride,
            padding=padding,
            name=name,
        )

    def with_imagenet(
        self, family: str, *, alpha: float = 1.0, depth_multiplier: int = 1, minimalistic: bool = False
    ) -> ModelArgs:
        """``weights="imagenet"`` resolved to the published file of ``family`` at this width.

        Raises ``ValueError`` (before anything is built) when nothing is published
        for these arguments; any other ``weights`` is returned unchanged.

        Args:
            family: the family key (``"mobilenet_v2"``, ...).
            alpha: the width multiplier.
            depth_multiplier: MobileNetV1's (must be 1 for ImageNet files).
            minimalistic: MobileNetV3's minimalistic variant.

        Examples:
            >>> at_224 = dataclasses.replace(args, weights="imagenet", input_shape=(224, 224, 3), classes=1000)
            >>> at_224.with_imagenet("mobilenet_v2", alpha=0.35).weights.fname
            'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5'
        """
        if self.weights != "imagenet":
            return self
        spec = imagenet_file(
            family,
            alpha=alpha,
            depth_multiplier=depth_multiplier,
            minimalistic=minimalistic,
            input_shape=self.input_shape,
            include_top=self.include_top,
            classes=self.classes,
            padding=self.padding,
        )
        return dataclasses.replace(self, weights=spec)


# The description of every shared argument, written into each model's docstring.
SHARED_ARGS: dict[str, str] = {
    "input_shape": "``(height, width, channels)``; height/width >= 32 or None.",
    "include_top": "add the classifier head (see above).",
    "weights": (
        "None (random), ``\"imagenet\"`` (the ``keras.applications`` file, where one is "
        "published; downloaded once, hash-checked) or the path of a weights file "
        "(.weights.h5, .h5, .keras)."
    ),
    "input_tensor": "optional symbolic tensor to build the model on.",
    "pooling": 'without the top: None (4-D output), "avg" or "max".',
    "classes": "classifier outputs (>= 1).",
    "classifier_activation": "activation of the top layer (str, callable, or None for logits).",
    "include_preprocessing": "rescale [0, 255] inputs to [-1, 1] inside the model.",
    "bn_momentum": "BatchNorm momentum in (0, 1).",
    "bn_epsilon": "BatchNorm epsilon (> 0).",
    "features_only": (
        "return the feature maps (needs include_top=False): the last map at each reduction "
        "in ``out_indices``; ``model.feature_info`` names them."
    ),
    "out_indices": (
        "sorted indices into the reductions (2, 4, 8, 16, 32); default: every reduction up "
        "to ``output_stride``."
    ),
    "output_stride": (
        "32, 16 or 8: the strides after that reduction become 1 and later spatial convs are "
        "dilated (DeepLab); the weights are unchanged."
    ),
    "padding": (
        '``"same"`` (TF, as ``keras.applications``) or ``"symmetric"`` (PyTorch\'s ``k//2`` on '
        "each side for strided convs and pools, for weights trained in PyTorch); weights unchanged."
    ),
    "name": "model name.",
}
_MARKER = "        {shared_args}\n"
Function = TypeVar("Function", bound=Callable[..., Any])


def shared_args_doc(function: Function) -> Function:
    """Write :data:`SHARED_ARGS` where the docstring of ``function`` says ``{shared_args}``.

    Args:
        function: a model function whose docstring holds the marker line.

    Examples:
        >>> @shared_args_doc
        ... def f(name=None):
        ...     '''Args:
        ...         {shared_args}
        ...     '''
        >>> "model name." in f.__doc__
        True
    """
    doc = function.__doc__ or ""
    if _MARKER not in doc:
        raise ValueError(f"{function.__name__}'s docstring has no {_MARKER.strip()!r} line.")
    lines = "".join(_doc_entry(name, text) for name, text in SHARED_ARGS.items())
    function.__doc__ = doc.replace(_MARKER, lines)
    return function


def _doc_entry(name: str, text: str, width: int = 88) -> str:
    words, lines, line = text.split(), [], f"        {name}:"
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "            " + word
        else:
            line += " " + word
    return "\n".join([*lines, line]) + "\n"


#: Type (as the model functions' signatures spell it) and default of every shared argument;
#: :func:`model_function` lets a family change a default (keras.applications' values differ by family).
SHARED_PARAMETERS: dict[str, tuple[str, Any]] = {
    "input_shape": ("tuple[int | None, int | None, int] | None", None),
    "include_top": ("bool", True),
    "weights": ("str | None", None),
    "input_tensor": ("Any", None),
    "pooling": ("str | None", None),
    "classes": ("int", 1000),
    "classifier_activation": ("Any", "softmax"),
    "include_preprocessing": ("bool", False),
    "dropout": ("float", 0.0),
    "bn_momentum": ("float", KERAS_BN_MOMENTUM),
    "bn_epsilon": ("float", KERAS_BN_EPSILON),
    "features_only": ("bool", False),
    "out_indices": ("tuple[int, ...] | None", None),
    "output_stride": ("int", 32),
    "padding": ("str", "same"),
    "name": ("str | None", None),
}
Builder = Callable[..., keras.Model]


def model_function(
    order: str,
    *,
    default_size: str,
    renamed: dict[str, str] | None = None,
    doc: str | None = None,
    **defaults: Any,
) -> Callable[[Builder], Callable[..., keras.Model]]:
    """Make the public model function of a family from its builder ``build(args, **family_arguments)``.

    The function's signature lists ``order``'s names: the builder's own keyword
    arguments (with their annotations and defaults) and the shared ones of
    :data:`SHARED_PARAMETERS` (``defaults`` overrides theirs). A call binds the
    arguments like any Python function, checks the shared ones with
    :meth:`ModelArgs.check` (before any layer is built) and passes
    ``ModelArgs`` and the family's arguments to the builder (which checks its own).

    Args:
        order: every argument name in signature order, separated by spaces.
        default_size: :data:`CLASSIFIER_SIZE` or :data:`ANY_SIZE` (the default input shape).
        renamed: public name -> shared name where the family spells one differently
            (MobileNetV3's ``dropout_rate`` is ``dropout``).
        doc: the docstring (default: the builder's); its ``{shared_args}`` line is
            replaced by the shared arguments' descriptions.
        **defaults: the family's defaults of shared arguments (``bn_momentum=0.9``).

    Examples:
        >>> @model_function("input_shape width include_top weights input_tensor pooling classes "
        ...     "classifier_activation include_preprocessing dropout bn_momentum bn_epsilon features_only "
        ...     "out_indices output_stride padding name", default_size=ANY_SIZE, bn_momentum=0.9)
        ... def Tiny(args: ModelArgs, *, width: int = 8) -> keras.Model:
        ...     '''A tiny network.
        ...
        ...     Args:
        ...         width: channels.
        ...         {shared_args}
        ...     '''
        ...     return (args.bn_momentum, width)
        >>> list(inspect.signature(Tiny).parameters)[:3], Tiny(None, 16)
        (['input_shape', 'width', 'include_top'], (0.9, 16))
    """
    renamed = renamed or {}
    names = order.split()
    unknown = set(defaults) - set(SHARED_PARAMETERS)
    if unknown:
        raise ValueError(f"`defaults` must name shared arguments {sorted(SHARED_PARAMETERS)}; received {sorted(unknown)}.")

    def decorate(build: Builder) -> Callable[..., keras.Model]:
        own = dict(list(inspect.signature(build).parameters.items())[1:])  # after `args`
        shared = {renamed.get(name, name) for name in names} - set(own)
        if shared != set(SHARED_PARAMETERS) or len(names) != len(set(names)) or not set(own) <= set(names):
            raise ValueError(f"{build.__name__}: `order` must list its own arguments {sorted(own)} and every shared one once.")
        parameters = []
        for name in names:
            if name in own:
                parameters.append(own[name].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD))
            else:
                shared_name = renamed.get(name, name)
                annotation, default = SHARED_PARAMETERS[shared_name]
                default = defaults.get(shared_name, default)
                parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation))
        signature = inspect.Signature(parameters, return_annotation="keras.Model")

        @functools.wraps(build)
        def model(*positional: Any, **keywords: Any) -> keras.Model:
            bound = signature.bind(*positional, **keywords)
            bound.apply_defaults()
            family = {name: bound.arguments.pop(name) for name in own}
            shared_values = {renamed.get(name, name): value for name, value in bound.arguments.items()}
            return build(ModelArgs.check(default_size=default_size, **shared_values), **family)

        del model.__wrapped__  # the signature users see is the one declared here
        model.__signature__ = signature
        model.__doc__ = doc if doc is not None else build.__doc__
        return shared_args_doc(model)

    return decorate