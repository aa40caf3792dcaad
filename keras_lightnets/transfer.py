"""Transfer learning: a trained backbone into a model built for new classes, by layer name, all or nothing."""

from __future__ import annotations

import os
import re
import zipfile

import h5py
import keras
import numpy as np

from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.validation import check_path
from keras_lightnets.weights import WEIGHTS_SUFFIXES, cache_dir, fetch, imagenet_file, load_weights, read_h5

__all__ = ["CLASSIFIER_LAYERS", "backbone_name", "check_weights_file", "fetch_imagenet", "load_backbone"]

# The layers whose shapes depend on the number of classes; never transferred.
CLASSIFIER_LAYERS = ("logits", "predictions")


def _weights_h5_classes(path: str) -> int:
    """The classifier size stored in a Keras 3 ``.weights.h5`` file of one of our models.

    Keras 3 names the file's entries by layer class in ``model.layers`` order, so
    the classifier is the dense layer (MobileNetV2, ShuffleNets) or the last conv
    (MobileNetV1/V3 ``logits``).
    """
    try:
        with h5py.File(path, "r") as file:
            names = list(file["layers"].keys())
            dense = [n for n in names if re.fullmatch(r"dense(_\d+)?", n)]
            convs = sorted((n for n in names if re.fullmatch(r"conv2d(_\d+)?", n)), key=lambda n: int(n[7:] or 0))
            last = dense[-1] if dense else convs[-1]
            return int(file["layers"][last]["vars"]["0"].shape[-1])
    except (OSError, KeyError, IndexError, ValueError) as error:
        raise ValueError(f"{path!r} is not a readable Keras .weights.h5 file of a keras_lightnets model: {error}") from None


def fetch_imagenet(name: str) -> str:
    """Download (once, hash-checked) the ImageNet file ``load_backbone(model, name, "imagenet")`` reads.

    Without network and without the cached file: a ``ValueError`` naming the
    URL, the cache path to place the file at and ``weights=PATH`` as the
    alternative (nothing else is tried).

    Args:
        name: a registered name with published ImageNet weights (``list_models(pretrained=True)``),
            or a detector on such a backbone (its backbone's file).

    Examples:
        Downloads the ImageNet weights (once; not run by the doctests):

        >>> path = fetch_imagenet("mobilenet_v3_small")  # doctest: +SKIP
    """
    name = backbone_name(name)
    entry = get_entry(name)
    if not any(p.tag == "imagenet" for p in entry.pretrained):
        raise ValueError(
            f"{name} has no published 'imagenet' weights file; models that have one: "
            "keras-lightnets list --pretrained (or pass the path of your own weights file)."
        )
    spec = imagenet_file(
        entry.family, alpha=entry.fixed.get("alpha", 1.0), minimalistic=entry.fixed.get("minimalistic", False)
    )
    try:
        return fetch(spec)
    except ValueError:
        raise
    except Exception as error:  # Keras' get_file raises plain Exceptions for network failures
        target = os.path.join(cache_dir(), "models", spec.fname)
        raise ValueError(
            f"Cannot download the ImageNet weights of {name} from {spec.origin} ({error}). Without network, "
            f"place that file at {target} or pass the path of a weights file instead (--weights PATH)."
        ) from None


def check_weights_file(weights: str) -> str:
    """Check that ``weights`` is an existing ``.keras`` / ``.weights.h5`` / ``.h5`` file Keras can open; return it.

    A ``.keras`` file is a zip archive and the others HDF5: a file that is
    neither is refused as unreadable (Keras would call it "not found").

    Args:
        weights: the path of a weights file.

    Examples:
        >>> check_weights_file("run.keras")
        'run.keras'
    """
    weights = check_path("weights", weights, must_exist=True)
    if not os.path.isfile(weights) or not weights.endswith(WEIGHTS_SUFFIXES):
        raise ValueError(
            f"`weights` must be 'imagenet' or a file ending with one of {WEIGHTS_SUFFIXES}; received {weights!r}."
        )
    readable = zipfile.is_zipfile(weights) if weights.endswith(".keras") else h5py.is_hdf5(weights)
    if not readable:
        kind = "a .keras (zip) archive" if weights.endswith(".keras") else "an HDF5 file"
        raise ValueError(f"{weights!r} is not a readable weights file: it is not {kind} (truncated or corrupt?).")
    return weights


def _source_arrays(name: str, weights: str, input_shape: tuple[int | None, ...]) -> dict[str, list[np.ndarray]]:
    """``{layer name: arrays}`` of the trained model ``weights`` names."""
    if weights == "imagenet":
        source = create_model(name, weights="imagenet", input_shape=(224, 224, 3))
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    if weights.endswith(".keras"):
        try:
            source = keras.saving.load_model(weights, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many kinds for unreadable files
            raise ValueError(f"{weights!r} is not a readable .keras file: {error}") from None
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    if weights.endswith(".weights.h5"):
        source = create_model(name, classes=_weights_h5_classes(weights), input_shape=input_shape)
        load_weights(source, weights)
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    return dict(read_h5(weights))


def backbone_name(name: str) -> str:
    """The registered classifier whose trained weights ``name``'s backbone takes: itself, or a detector's backbone.

    Args:
        name: a registered name.

    Examples:
        >>> backbone_name("ssdlite_mobilenet_v3_large"), backbone_name("mobilenet_v2")
        ('mobilenet_v3_large', 'mobilenet_v2')
    """
    return str(get_entry(name).fixed.get("backbone_name", name))


def load_backbone(model: keras.Model, name: str, weights: str) -> keras.Model:
    """Load every layer of ``model`` but its classifier from a trained ``name``; return ``model``.

    The source is ImageNet (``"imagenet"``: the published file, top included, so
    MobileNetV3's pre-logits layer comes along) or a ``.keras``, ``.weights.h5``
    or Keras 2 ``.h5`` file of the same architecture and width trained on any
    number of classes. Layers are matched by name; ``logits`` / ``predictions``
    keep their fresh initialization. Every other weighted layer must be in the
    source with the same shapes and the source may hold no other layers: the
    first mismatch is named in a ``ValueError`` and nothing is assigned.
    For a detector (``"ssdlite_mobilenet_v3_large"``) the source is a
    classifier of its backbone (:func:`backbone_name`): every backbone layer is
    loaded by name, the extra blocks and heads keep their initialization, and
    the classifier's layers beyond the detector's taps are not used.

    Args:
        model: a model built by ``create_model(name, classes=...)`` (or ``num_classes=...``).
        name: its registered name (see :func:`keras_lightnets.list_models`).
        weights: ``"imagenet"`` or the path of a weights file.

    Examples:
        >>> fresh = create_model("mobilenet_v3_small", classes=5, input_shape=(32, 32, 3))
        >>> load_backbone(fresh, "mobilenet_v3_small", "run.keras")
        <LightNet name=MobileNetV3Small, built=True>

        Downloads the ImageNet weights (once; not run by the doctests):

        >>> load_backbone(fresh, "mobilenet_v3_small", "imagenet")  # doctest: +SKIP
    """
    source_name = backbone_name(name)
    if weights != "imagenet":
        weights = check_weights_file(weights)
    source = _source_arrays(source_name, os.fspath(weights), tuple(model.input_shape[1:]))
    targets = [layer for layer in model.layers if layer.weights and layer.name not in CLASSIFIER_LAYERS]
    extra = sorted(set(source) - {layer.name for layer in targets} - set(CLASSIFIER_LAYERS))
    if source_name != name:  # a task model: its backbone's layers come from the classifier, nothing else
        backbone = {layer.name for layer in create_model(source_name, input_shape=(224, 224, 3)).layers}
        targets, extra = [layer for layer in targets if layer.name in backbone], []
    for layer in targets:
        if layer.name not in source:
            raise ValueError(
                f"{weights!r} does not fit {name}: it has no layer {layer.name!r} (another architecture?)."
            )
        need, found = [tuple(w.shape) for w in layer.weights], [a.shape for a in source[layer.name]]
        if need != found:
            raise ValueError(
                f"{weights!r} does not fit {name}: layer {layer.name!r} needs shapes {need}, the file has "
                f"{found} (another architecture or width?)."
            )
    if extra:
        raise ValueError(f"{weights!r} does not fit {name}: it has layers the model lacks, e.g. {extra[:5]}.")
    for layer in targets:
        layer.set_weights(source[layer.name])
    return model
