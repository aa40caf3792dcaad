"""Loading weights files into built models, all or nothing.

* Keras 2 ``.h5`` files (weights or whole model, e.g. the ``keras.applications``
  files) are matched layer by layer, in order, with every shape checked
  before the first assignment.
* ``.weights.h5`` / ``.keras`` files go through Keras and are rolled back on
  failure (also when Keras only warns that it loaded part of the file).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import h5py
import keras
import numpy as np

from keras_lightnets.validation import check_path
from keras_lightnets.weights.cache import fetch
from keras_lightnets.weights.catalogue import WeightsFile

__all__ = ["WEIGHTS_SUFFIXES", "load_imagenet", "load_weights", "read_h5"]

WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".keras")


def load_weights(model: keras.Model, path: str) -> keras.Model:
    """Load a weights file into ``model``, all or nothing; return ``model``.

    Raises ``ValueError`` naming the first mismatch (another architecture or
    width) or an unreadable file; the model is then unchanged.

    Args:
        model: a built Keras model.
        path: a Keras 2 ``.h5``, a ``.weights.h5`` or a ``.keras`` file.

    Examples:
        >>> import keras_lightnets
        >>> v2 = keras_lightnets.MobileNetV2(weights=None)
        >>> load_weights(v2, "mobilenet_v2.weights.h5")
        <LightNet name=mobilenet_v2_1.00, built=True>
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    path = check_path("path", path, must_exist=True)
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        for layer, arrays in _match_h5(model, path):
            layer.set_weights(arrays)
        return model
    if not path.endswith((".weights.h5", ".keras")):
        raise ValueError(f"`path` must end with one of {WEIGHTS_SUFFIXES}; received {path!r}.")
    backup = [variable.numpy() for variable in model.weights]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
        skipped = [str(w.message) for w in caught if "freshly-initialized" in str(w.message)]
        if skipped:  # Keras loaded part of the file and only warned
            raise ValueError(skipped[0])
    except Exception as error:
        for variable, value in zip(model.weights, backup):
            variable.assign(value)
        raise ValueError(f"Cannot load {path!r} into {model.name!r} (model left unchanged): {error}") from None
    return model


def load_imagenet(model: keras.Model, spec: WeightsFile, root: str | None = None) -> keras.Model:
    """:func:`~keras_lightnets.weights.cache.fetch` ``spec`` and :func:`load_weights` it.

    A cached file without a published hash that cannot be loaded (truncated
    download) is removed from the cache, so the next call downloads it again.

    Args:
        model: the built model to load into.
        spec: the published file (from ``imagenet_file``).
        root: the cache root; default ``$KERAS_HOME`` or ``~/.keras``.

    Examples:
        Downloads the ImageNet weights (once; not run by the doctests):

        >>> import keras_lightnets
        >>> v3 = keras_lightnets.MobileNetV3Small()  # doctest: +SKIP
        >>> load_imagenet(v3, imagenet_file("mobilenet_v3_small"))  # doctest: +SKIP
    """
    path = fetch(spec, root)
    try:
        return load_weights(model, path)
    except ValueError:
        if spec.file_hash is None:
            os.remove(path)
        raise


def read_h5(path: str) -> list[tuple[str, list[np.ndarray]]]:
    """``(layer name, arrays)`` for each layer with weights in a Keras 2 ``.h5`` file.

    Args:
        path: the file (weights only, or a whole Keras 2 model).

    Examples:
        >>> [name for name, _ in read_h5("mobilenet_v2.h5")][:2]
        ['Conv1', 'bn_Conv1']
    """
    try:
        with h5py.File(path, "r") as file:
            group = file["model_weights"] if "layer_names" not in file.attrs and "model_weights" in file else file
            if "layer_names" not in group.attrs:
                raise ValueError("it has no 'layer_names' attribute")
            layers = []
            for raw in group.attrs["layer_names"]:
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                names = [n.decode() if isinstance(n, bytes) else str(n) for n in group[name].attrs["weight_names"]]
                if names:
                    layers.append((name, [np.asarray(group[name][n]) for n in names]))
            return layers
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"{path!r} is not a readable Keras .h5 weights file (truncated or another format): {error}"
        ) from None


def _match_h5(model: keras.Model, path: str) -> list[tuple[Any, list[np.ndarray]]]:
    stored = read_h5(path)
    layers = [layer for layer in model.layers if layer.weights]
    if len(stored) != len(layers):
        raise ValueError(
            f"{path!r} holds weights for {len(stored)} layers; {model.name!r} has {len(layers)} "
            "layers with weights (a file for another architecture, or with/without the top)."
        )
    for layer, (stored_name, arrays) in zip(layers, stored):
        shapes = [tuple(w.shape) for w in layer.weights]
        found = [a.shape for a in arrays]
        if shapes != found:
            raise ValueError(
                f"{path!r} does not fit {model.name!r}: layer {layer.name!r} needs shapes {shapes}, "
                f"the file's layer {stored_name!r} has {found} (another architecture or width?)."
            )
    return [(layer, arrays) for layer, (_, arrays) in zip(layers, stored)]
