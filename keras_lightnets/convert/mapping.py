"""The one mechanism every checkpoint conversion uses: plan, check, report, assign all or nothing.

A converter says which checkpoint prefix feeds each Keras layer
(``{"stem": "features.0.0", "stem_bn": "features.0.1", ...}``); :func:`assign`
then converts every tensor to the Keras layout, checks every shape, lists
missing, unexpected and misshapen keys in one ``ValueError``, and assigns
nothing unless everything fits.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, Callable

import keras
import numpy as np

from keras_lightnets.layers import LayerScale
from keras_lightnets.registry import create_model
from keras_lightnets.validation import check_path, require_extra

__all__ = ["Plan", "as_numpy_dict", "assign", "convert_checkpoint", "plan", "torch_layout"]

_BATCH_NORM = ("weight", "bias", "running_mean", "running_var")
# Arguments a conversion sets itself: it is exact only with them.
_FIXED_ARGUMENTS = ("padding", "bn_epsilon", "bn_momentum", "weights", "features_only", "alpha", "scale", "variant")
# Classifier layers whose checkpoint keys an include_top=False conversion leaves unused.
_HEAD_LAYERS = ("predictions", "pre_logits", "pre_logits_bn", "logits")


def as_numpy_dict(state_dict: Any) -> dict[str, np.ndarray]:
    """A PyTorch ``state_dict``, a ``.pth`` path or a dict of arrays -> ``{key: ndarray}``.

    Reading a path needs ``torch`` (``weights_only=True``).

    Args:
        state_dict: a mapping of str keys to tensors or arrays, or a ``.pth`` path.

    Examples:
        >>> as_numpy_dict({"fc.bias": [0.0, 1.0]})["fc.bias"].shape
        (2,)
    """
    if isinstance(state_dict, (str, os.PathLike)):
        path = check_path("state_dict", state_dict, must_exist=True)
        require_extra("torch", f"Reading {path!r} (or pass a dict of NumPy arrays)")
        import torch

        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "`state_dict` must be a mapping of names to tensors/arrays or the path of a .pth file; "
            f"received {type(state_dict).__name__}."
        )
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"`state_dict` keys must be str; received {key!r}.")
        if hasattr(value, "detach"):  # a torch.Tensor
            value = value.detach().cpu().numpy()
        arrays[key] = np.asarray(value)
    return arrays


def torch_layout(layer: keras.layers.Layer, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A PyTorch kernel in the Keras layout of ``layer`` (``shape`` is the Keras shape).

    OIHW -> HWIO (also grouped convs); depthwise ``(C * m, 1, kh, kw)`` ->
    ``(kh, kw, C, m)``; Linear ``(out, in)`` -> Dense ``(in, out)`` or a 1x1
    conv ``(1, 1, in, out)``. A wrong-sized array is returned unreshaped so the
    shape check can report it.

    Args:
        layer: the Keras layer the kernel is for.
        array: the PyTorch kernel.
        shape: the Keras kernel shape.

    Examples:
        >>> torch_layout(keras.layers.Dense(3), np.zeros((3, 5)), (5, 3)).shape
        (5, 3)
    """
    if array.ndim == 1:  # a LayerScale gamma
        return array
    if array.ndim == 2:
        return array.T.reshape(shape) if array.size == np.prod(shape) else array.T
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        moved = array.transpose(2, 3, 0, 1)
        return moved.reshape(shape) if moved.size == np.prod(shape) else moved
    return array.transpose(2, 3, 1, 0)


@dataclasses.dataclass
class Plan:
    """What :func:`plan` found: the assignments and every problem."""

    assignments: list[tuple[keras.layers.Layer, list[np.ndarray]]]
    missing: list[str]
    unexpected: list[str]
    misshapen: list[str]

    def check(self, source: str) -> None:
        """Raise one ``ValueError`` listing every problem, naming ``source``.

        Args:
            source: what the checkpoint is, for the message (e.g. "torchvision's mobilenet_v2").

        Examples:
            >>> Plan([], [], [], []).check("an empty checkpoint")
        """
        if not (self.missing or self.unexpected or self.misshapen):
            return

        def listing(items: list[str]) -> str:
            return ", ".join(items[:10]) + (f" ... ({len(items)} in all)" if len(items) > 10 else "")

        raise ValueError(
            f"The state_dict does not fit {source}: missing keys [{listing(self.missing)}]; "
            f"unexpected keys [{listing(self.unexpected)}]; misshapen keys [{listing(self.misshapen)}]."
        )


def plan(
    model: keras.Model,
    prefixes: Mapping[str, str],
    tensors: Mapping[str, np.ndarray],
    *,
    layout: Callable[[keras.layers.Layer, np.ndarray, tuple[int, ...]], np.ndarray] = torch_layout,
    ignore: Callable[[str], bool] = lambda key: key.endswith("num_batches_tracked"),
) -> Plan:
    """Map ``tensors`` onto every weighted layer of ``model`` by ``prefixes``.

    Args:
        model: the Keras model to fill.
        prefixes: Keras layer name -> checkpoint prefix (``prefix.weight``,
            ``prefix.bias``; BatchNorm ``weight/bias/running_mean/running_var``;
            :class:`~keras_lightnets.layers.LayerScale` ``prefix.gamma``).
        tensors: the checkpoint as ``{key: ndarray}``.
        layout: converts a kernel to the Keras layout (default :func:`torch_layout`).
        ignore: checkpoint keys that may stay unused.

    Examples:
        >>> inputs = keras.Input((8, 8, 3))
        >>> net = keras.Model(inputs, keras.layers.Conv2D(4, 3, use_bias=False, name="stem")(inputs))
        >>> tensors = {"conv1.0.weight": np.ones((4, 3, 3, 3), "float32")}  # PyTorch's (out, in, kh, kw)
        >>> plan(net, {"stem": "conv1.0"}, tensors).check("my checkpoint")
    """
    assignments, missing, misshapen, used = [], [], [], set()
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in prefixes:
            raise ValueError(f"No checkpoint module is known for layer {layer.name!r} of {model.name!r}.")
        prefix = prefixes[layer.name]
        shapes = [tuple(w.shape) for w in layer.weights]
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = [f"{prefix}.{n}" for n in _BATCH_NORM]
        elif isinstance(layer, LayerScale):
            keys = [f"{prefix}.gamma"]
        else:
            keys = [f"{prefix}.weight", f"{prefix}.bias"][: len(shapes)]
        arrays = []
        for index, (key, shape) in enumerate(zip(keys, shapes)):
            used.add(key)
            array = tensors.get(key)
            if array is None:
                missing.append(key)
                continue
            if index == 0 and not isinstance(layer, keras.layers.BatchNormalization):
                array = layout(layer, array, shape)
            if tuple(array.shape) != shape:
                misshapen.append(f"{key}: checkpoint {tensors[key].shape}, model needs {shape} (Keras layout)")
            arrays.append(array)
        assignments.append((layer, arrays))
    unexpected = sorted(key for key in tensors if key not in used and not ignore(key))
    return Plan(assignments, missing, unexpected, misshapen)


def assign(model: keras.Model, found: Plan, source: str) -> keras.Model:
    """Check ``found`` (raising before any change) and assign every array; return ``model``.

    Args:
        model: the model ``found`` was planned for.
        found: the :class:`Plan` from :func:`plan`.
        source: what the checkpoint is, for the error message.

    Examples:
        >>> inputs = keras.Input((8, 8, 3))
        >>> net = keras.Model(inputs, keras.layers.Conv2D(4, 3, use_bias=False, name="stem")(inputs))
        >>> tensors = {"conv1.0.weight": np.ones((4, 3, 3, 3), "float32")}
        >>> tuple(assign(net, plan(net, {"stem": "conv1.0"}, tensors), "my checkpoint").get_layer("stem").kernel.shape)
        (3, 3, 3, 4)
    """
    found.check(source)
    for layer, arrays in found.assignments:
        layer.set_weights(arrays)
    return model


def convert_checkpoint(
    name: str,
    state_dict: Any,
    model_kwargs: Mapping[str, Any],
    *,
    prefixes: Callable[[keras.Model], dict[str, str]],
    bn_epsilon: float,
    bn_momentum: float,
    classifier_key: str,
    defaults: Mapping[str, Any],
    source: str,
) -> keras.Model:
    """Build the registered model ``name`` as a PyTorch checkpoint needs it and load the checkpoint.

    The model gets ``padding="symmetric"``, the checkpoint's BatchNorm
    settings, no in-model rescaling, logits out and ``classes`` from the
    checkpoint's classifier (each overridable through ``model_kwargs`` except
    the fixed ones, which are refused). With ``include_top=False`` the keys of
    the layers ``pre_logits`` / ``logits`` / ``predictions`` (and their BN)
    may stay unused.

    Args:
        name: the registry name to build.
        state_dict: the checkpoint (see :func:`as_numpy_dict`).
        model_kwargs: the user's model arguments.
        prefixes: Keras layer name -> checkpoint prefix, from the built model.
        bn_epsilon: the checkpoint's BatchNorm epsilon.
        bn_momentum: its momentum, in Keras' convention (1 - PyTorch's).
        classifier_key: the key of the classifier weight (sets ``classes``).
        defaults: model arguments the source implies (e.g. its dropout).
        source: what the checkpoint is, for error messages.

    Examples:
        >>> import torchvision  # weights=None below: random weights, nothing downloaded
        >>> from keras_lightnets.convert.torchvision import inverted_residual_prefixes
        >>> sd = torchvision.models.mobilenet_v2().state_dict()
        >>> f = lambda model: inverted_residual_prefixes({layer.name for layer in model.layers}, v2=True)
        >>> convert_checkpoint("mobilenet_v2", sd, {}, prefixes=f, bn_epsilon=1e-5, bn_momentum=0.9,
        ...     classifier_key="classifier.1.weight", defaults={}, source="torchvision's mobilenet_v2").output_shape
        (None, 1000)
    """
    fixed = sorted(set(model_kwargs) & set(_FIXED_ARGUMENTS))
    if fixed:
        raise ValueError(
            f"The conversion sets {fixed} itself (an exact conversion needs {source}'s values); "
            "remove them from the arguments."
        )
    tensors = as_numpy_dict(state_dict)
    kwargs: dict[str, Any] = dict(classifier_activation=None, include_preprocessing=False, **defaults)
    if classifier_key in tensors and tensors[classifier_key].ndim == 2:
        kwargs["classes"] = int(tensors[classifier_key].shape[0])
    kwargs.update(model_kwargs)
    model = create_model(name, padding="symmetric", bn_epsilon=bn_epsilon, bn_momentum=bn_momentum, **kwargs)
    mapping = prefixes(model)
    head = tuple(f"{mapping[n]}." for n in _HEAD_LAYERS if n in mapping)
    without_top = kwargs.get("include_top", True) is False

    def ignore(key: str) -> bool:
        return key.endswith("num_batches_tracked") or (without_top and key.startswith(head))

    return assign(model, plan(model, mapping, tensors, ignore=ignore), source)
