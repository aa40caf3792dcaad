"""Pretrained weights: ``keras.applications``' ImageNet files and torchvision checkpoints.

* :func:`imagenet_file` names the file ``keras.applications`` publishes for a
  MobileNet (same origin, same file name, same hash where Keras has one);
  :func:`fetch` downloads it with ``keras.utils.get_file`` into
  ``$KERAS_HOME/models`` (default ``~/.keras/models``), never leaving a
  partial or corrupted file in the cache.
* :func:`load_weights` loads a weights file into a built model, all or
  nothing: Keras 2 ``.h5`` files (the published ones) are matched layer by
  layer, in order, with every shape checked before the first assignment;
  ``.weights.h5`` / ``.keras`` files go through Keras and are rolled back on
  failure.
* :func:`from_torchvision` builds the matching model with PyTorch's padding
  and BatchNorm settings and maps a torchvision ``state_dict`` onto it by name.

The model functions call :func:`imagenet_file` / :func:`load_weights` for their
``weights`` argument; nothing here imports the models at module level.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_lightnets.validation import check_bool, check_choice, check_path

__all__ = [
    "IMAGENET_SIZES",
    "TORCHVISION_MODELS",
    "ImagenetFile",
    "fetch",
    "from_torchvision",
    "imagenet_file",
    "load_imagenet",
    "load_weights",
]

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

# keras.applications' MD5 hashes for MobileNetV3 (top, no top). keras.applications
# publishes no hash for its MobileNetV1/V2 files; those are checked by structure.
MOBILENET_V3_HASHES: dict[str, tuple[str, str]] = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}

# Published widths and square input sizes per family (keras.applications' rules).
IMAGENET_ALPHAS: dict[str, tuple[float, ...]] = {
    "mobilenet_v1": (0.25, 0.5, 0.75, 1.0),
    "mobilenet_v2": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
    "mobilenet_v3_large": (0.75, 1.0),
    "mobilenet_v3_small": (0.75, 1.0),
}
IMAGENET_SIZES: dict[str, tuple[int, ...]] = {
    "mobilenet_v1": (128, 160, 192, 224),
    "mobilenet_v2": (96, 128, 160, 192, 224),
    "mobilenet_v3_large": (224,),
    "mobilenet_v3_small": (224,),
}


class ImagenetFile(NamedTuple):
    """One published weights file: cache name, URL and hash (None: Keras has none)."""

    fname: str
    origin: str
    file_hash: str | None


def imagenet_file(
    family: str,
    *,
    alpha: float = 1.0,
    input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
    include_top: bool = True,
    classes: int = 1000,
    minimalistic: bool = False,
    depth_multiplier: int = 1,
    padding: str = "same",
) -> ImagenetFile:
    """The ``keras.applications`` ImageNet file for a model, with its rules.

    ``alpha`` must be a published width, ``classes`` 1000 with the top and the
    input 3-channel. Like ``keras.applications``, a non-square input or a size
    without its own file loads the 224 file with a warning (the weights do not
    depend on the size). ShuffleNets have no Keras file: use
    :func:`from_torchvision` for ShuffleNetV2.

    Args:
        family: ``"mobilenet_v1"``, ``"mobilenet_v2"``, ``"mobilenet_v3_large"``
            or ``"mobilenet_v3_small"``.
        alpha: the width multiplier (see ``IMAGENET_ALPHAS``).
        input_shape: the model's ``(height, width, channels)``.
        include_top: the file with or without the classifier.
        classes: must be 1000 with the top.
        minimalistic: MobileNetV3's minimalistic variant (alpha 1.0 only).
        depth_multiplier: MobileNetV1's; must be 1.
        padding: must be ``"same"``: the files were trained with TF padding.

    Example:
        >>> imagenet_file("mobilenet_v2", alpha=0.35, input_shape=(96, 96, 3)).fname
        'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5'
    """
    if family not in IMAGENET_ALPHAS:
        raise ValueError(
            f"`weights='imagenet'` is published for {sorted(IMAGENET_ALPHAS)} only; received "
            f"a {family!r} model. For ShuffleNetV2 convert torchvision's checkpoint with "
            "keras_lightnets.weights.from_torchvision."
        )
    check_bool("include_top", include_top)
    check_bool("minimalistic", minimalistic)
    if include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000. "
            f"Received classes={classes}"
        )
    if depth_multiplier != 1:
        raise ValueError(
            "If imagenet weights are being loaded, depth multiplier must be 1. "
            f"Received depth_multiplier={depth_multiplier}"
        )
    if padding != "same":
        raise ValueError(
            f"`weights='imagenet'` files were trained with padding='same'; received padding={padding!r}."
        )
    if input_shape[2] != 3:
        raise ValueError(
            f"`weights='imagenet'` needs 3 input channels; received input_shape={input_shape!r}."
        )
    allowed = (1.0,) if minimalistic else IMAGENET_ALPHAS[family]
    if alpha not in allowed:
        raise ValueError(
            f"If imagenet weights are being loaded, `alpha` of {family}"
            f"{' (minimalistic)' if minimalistic else ''} must be one of {allowed}; "
            f"received alpha={alpha!r}."
        )
    rows, cols = input_shape[:2]
    sizes = IMAGENET_SIZES[family]
    if rows != cols or rows not in sizes:
        warnings.warn(
            f"`input_shape` is undefined or non-square, or `rows` is not in {list(sizes)}. "
            "Weights for input shape (224, 224) will be loaded as the default.",
            stacklevel=3,
        )
        rows = 224
    suffix = "" if include_top else "_no_top"
    if family == "mobilenet_v1":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        return _keras_file("mobilenet", f"mobilenet_{alpha_text}_{rows}_tf{suffix}.h5", None)
    if family == "mobilenet_v2":
        fname = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
        return _keras_file("mobilenet_v2", fname, None)
    size = family.rsplit("_", 1)[1]
    key = f"{size}{'_minimalistic' if minimalistic else ''}_224_{float(alpha)}_float"
    top_hash, no_top_hash = MOBILENET_V3_HASHES[key]
    if include_top:
        return _keras_file("mobilenet_v3", f"weights_mobilenet_v3_{key}.h5", top_hash)
    return _keras_file("mobilenet_v3", f"weights_mobilenet_v3_{key}_no_top_v2.h5", no_top_hash)


def _keras_file(folder: str, fname: str, file_hash: str | None) -> ImagenetFile:
    return ImagenetFile(fname, f"{KERAS_APPLICATIONS_URL}{folder}/{fname}", file_hash)


def _cache_dir() -> str:
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hash_matches(path: str, file_hash: str) -> bool:
    """MD5 (32 hex digits) or SHA-256 (64) of ``path`` equals ``file_hash``."""
    digest = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == file_hash


def fetch(spec: ImagenetFile, cache_dir: str | None = None) -> str:
    """Download ``spec`` (once) into ``cache_dir/models``; return the local path.

    Uses ``keras.utils.get_file`` with the file's hash under a temporary name
    and renames it into place only when the hash matches, so the cache never
    holds a partial or corrupted file. A cached file whose hash no longer
    matches is downloaded again.

    Args:
        spec: from :func:`imagenet_file`.
        cache_dir: the cache root; default ``$KERAS_HOME`` or ``~/.keras``.

    Example:
        >>> spec = imagenet_file("mobilenet_v3_small")
        >>> path = fetch(spec)  # doctest: +SKIP
    """
    if not isinstance(spec, ImagenetFile):
        raise TypeError(f"`spec` must be an ImagenetFile from imagenet_file(); received {spec!r}.")
    cache_dir = _cache_dir() if cache_dir is None else check_path("cache_dir", cache_dir)
    folder = os.path.join(cache_dir, "models")
    target = os.path.join(folder, spec.fname)
    if os.path.exists(target):
        if spec.file_hash is None or _hash_matches(target, spec.file_hash):
            return target
        os.remove(target)
    os.makedirs(folder, exist_ok=True)
    partial = f".{spec.fname}.{uuid.uuid4().hex}.part"
    try:
        path = keras.utils.get_file(
            partial, spec.origin, file_hash=spec.file_hash, cache_dir=cache_dir, cache_subdir="models"
        )
        os.replace(path, target)
    except ValueError as error:
        raise ValueError(
            f"The download of {spec.origin} does not match its hash {spec.file_hash} (corrupted or "
            f"truncated); nothing was cached. Keras said: {error}"
        ) from None
    finally:
        partial_path = os.path.join(folder, partial)
        if os.path.exists(partial_path):
            os.remove(partial_path)
    return target


def load_imagenet(model: keras.Model, spec: ImagenetFile, cache_dir: str | None = None) -> keras.Model:
    """:func:`fetch` ``spec`` and :func:`load_weights` it into ``model``.

    A cached file without a published hash that cannot be loaded (truncated
    download) is removed from the cache, so the next call downloads it again.

    Example:
        >>> model = keras_lightnets.MobileNetV3Small()  # doctest: +SKIP
        >>> load_imagenet(model, imagenet_file("mobilenet_v3_small"))  # doctest: +SKIP
    """
    path = fetch(spec, cache_dir)
    try:
        return load_weights(model, path)
    except ValueError:
        if spec.file_hash is None:
            os.remove(path)
        raise


def load_weights(model: keras.Model, path: str) -> keras.Model:
    """Load a weights file into ``model``, all or nothing; return ``model``.

    * Keras 2 ``.h5`` (weights or whole model, e.g. the ``keras.applications``
      files): the file's layers with weights are matched, in order, to the
      model's; the count, every layer's number of weights and every shape are
      checked before anything is assigned.
    * ``.weights.h5`` / ``.keras``: loaded by Keras; on failure the model's
      previous weights are restored.

    Raises ``ValueError`` naming the first mismatch (another architecture or
    width) or an unreadable file; the model is then unchanged.

    Example:
        >>> model = keras_lightnets.MobileNetV2(weights=None)  # doctest: +SKIP
        >>> load_weights(model, "mobilenet_v2.weights.h5")  # doctest: +SKIP
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    path = check_path("path", path, must_exist=True)
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        pairs = _match_h5(model, path)
        for layer, arrays in pairs:
            layer.set_weights(arrays)
        return model
    if not path.endswith((".weights.h5", ".keras")):
        raise ValueError(f"`path` must end with .h5, .weights.h5 or .keras; received {path!r}.")
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


def _read_h5(path: str) -> list[tuple[str, list[np.ndarray]]]:
    """``(layer name, arrays)`` for each layer with weights in a Keras 2 h5 file."""
    import h5py

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
    stored = _read_h5(path)
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


# --------------------------------------------------------------------------- torchvision

# name -> (BatchNorm epsilon, Keras momentum, classifier weight key) of torchvision's model.
TORCHVISION_MODELS: dict[str, tuple[float, float, str]] = {
    "mobilenet_v2": (1e-5, 0.9, "classifier.1.weight"),
    "mobilenet_v3_large": (1e-3, 0.99, "classifier.3.weight"),
    "mobilenet_v3_small": (1e-3, 0.99, "classifier.3.weight"),
    "shufflenet_v2_x0_5": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x1_0": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x1_5": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x2_0": (1e-5, 0.9, "fc.weight"),
}
# Arguments from_torchvision sets itself: the conversion is exact only with them.
_FIXED_ARGUMENTS = ("padding", "bn_epsilon", "bn_momentum", "weights", "features_only", "alpha", "scale")
_SHUFFLE_V2_PARTS = {
    "proj_depthwise": "branch1.0", "proj_depthwise_bn": "branch1.1",
    "proj_pointwise": "branch1.2", "proj_pointwise_bn": "branch1.3",
    "pointwise1": "branch2.0", "pointwise1_bn": "branch2.1",
    "depthwise": "branch2.3", "depthwise_bn": "branch2.4",
    "pointwise2": "branch2.5", "pointwise2_bn": "branch2.6",
}


def _conv_bn(keys: dict[str, str], layer: str, prefix: str) -> None:
    """torchvision's Conv2dNormActivation: ``prefix.0`` conv, ``prefix.1`` BN."""
    keys[layer] = f"{prefix}.0"
    keys[f"{layer}_bn"] = f"{prefix}.1"


def _inverted_residual_keys(names: set[str], v2: bool) -> dict[str, str]:
    """Keras layer -> torchvision module for MobileNetV2 / V3."""
    keys: dict[str, str] = {}
    _conv_bn(keys, "stem", "features.0")
    blocks = sum(1 for name in names if name.startswith("block_") and name.endswith("_depthwise"))
    inner = "conv" if v2 else "block"
    for index in range(blocks):
        block, prefix, part = f"block_{index}", f"features.{index + 1}.{inner}", 0
        if f"{block}_expand" in names:
            _conv_bn(keys, f"{block}_expand", f"{prefix}.{part}")
            part += 1
        _conv_bn(keys, f"{block}_depthwise", f"{prefix}.{part}")
        part += 1
        if f"{block}_se_reduce" in names:
            keys[f"{block}_se_reduce"] = f"{prefix}.{part}.fc1"
            keys[f"{block}_se_expand"] = f"{prefix}.{part}.fc2"
            part += 1
        if v2:  # a bare conv and BN, not a Conv2dNormActivation
            keys[f"{block}_project"] = f"{prefix}.{part}"
            keys[f"{block}_project_bn"] = f"{prefix}.{part + 1}"
        else:
            _conv_bn(keys, f"{block}_project", f"{prefix}.{part}")
    _conv_bn(keys, "head_conv", f"features.{blocks + 1}")
    if v2:
        keys["predictions"] = "classifier.1"
    else:
        keys["pre_logits"] = "classifier.0"
        keys["logits"] = "classifier.3"
    return keys


def _shufflenet_v2_keys(names: set[str]) -> dict[str, str]:
    """Keras layer -> torchvision module for ShuffleNetV2."""
    keys = {"head_conv": "conv5.0", "head_conv_bn": "conv5.1", "predictions": "fc"}
    _conv_bn(keys, "stem", "conv1")
    for name in names:
        unit = re.fullmatch(r"(stage\d)_unit(\d+)_(\w+)", name)
        if unit and unit[3] in _SHUFFLE_V2_PARTS:
            keys[name] = f"{unit[1]}.{int(unit[2]) - 1}.{_SHUFFLE_V2_PARTS[unit[3]]}"
    return keys


def _as_numpy_dict(state_dict: Any) -> dict[str, np.ndarray]:
    if isinstance(state_dict, (str, os.PathLike)):
        path = check_path("state_dict", state_dict, must_exist=True)
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"Reading {path!r} needs PyTorch (pip install torch); or pass a dict of NumPy arrays."
            ) from None
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


def _keras_arrays(layer: Any, prefix: str, tensors: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, tuple]]:
    """``{torch key: (array in Keras layout, Keras shape)}`` for one Keras layer."""
    kind = type(layer).__name__
    weights = [tuple(w.shape) for w in layer.weights]
    if kind == "BatchNormalization":
        names = ("weight", "bias", "running_mean", "running_var")
        return {f"{prefix}.{n}": (tensors.get(f"{prefix}.{n}"), shape) for n, shape in zip(names, weights)}

    def layout(array: np.ndarray | None, shape: tuple) -> np.ndarray | None:
        if array is None:
            return None
        if array.ndim == 2:  # Linear (out, in) -> Dense (in, out) / 1x1 conv (1, 1, in, out)
            return array.T.reshape(shape) if array.size == np.prod(shape) else array.T
        if kind == "DepthwiseConv2D":  # (C * m, 1, kh, kw) -> (kh, kw, C, m)
            moved = array.transpose(2, 3, 0, 1)
            return moved.reshape(shape) if moved.size == np.prod(shape) else moved
        return array.transpose(2, 3, 1, 0)  # OIHW -> HWIO (also grouped convs)

    out = {f"{prefix}.weight": (layout(tensors.get(f"{prefix}.weight"), weights[0]), weights[0])}
    if len(weights) == 2:
        out[f"{prefix}.bias"] = (tensors.get(f"{prefix}.bias"), weights[1])
    return out


def from_torchvision(name: str, state_dict: Any, **model_kwargs: Any) -> keras.Model:
    """Build ``name`` and load a torchvision ``state_dict`` into it, exactly.

    The model is built as torchvision's: ``padding="symmetric"`` (PyTorch pads
    strided convs and pools ``k//2`` on both sides), torchvision's BatchNorm
    epsilon (1e-5; 1e-3 for MobileNetV3) and momentum, no in-model rescaling
    (feed images normalized as torchvision's weights expect: RGB in [0, 1],
    minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)),
    and logits out (``classifier_activation=None``) unless you pass another.
    ``classes`` defaults to the checkpoint's classifier size. Every tensor is
    mapped by name with its layout converted (OIHW -> HWIO, depthwise
    ``(C, 1, kh, kw)`` -> ``(kh, kw, C, 1)``, Linear -> Dense or 1x1 conv);
    every key must be used exactly once and every shape match, else a
    ``ValueError`` lists the missing, unexpected and misshapen keys and no
    model is returned.

    Args:
        name: one of ``TORCHVISION_MODELS``: ``mobilenet_v2``,
            ``mobilenet_v3_large``, ``mobilenet_v3_small``,
            ``shufflenet_v2_x0_5`` / ``x1_0`` / ``x1_5`` / ``x2_0``.
        state_dict: a torchvision ``state_dict`` (tensors), a dict of NumPy
            arrays with the same keys, or the path of a ``.pth`` file (reading
            one needs torch).
        **model_kwargs: other model arguments (``input_shape``,
            ``include_top``, ``pooling``, ``classes``, ``classifier_activation``,
            ``name``, ...). ``padding``, ``bn_epsilon``, ``bn_momentum``,
            ``weights``, ``features_only``, ``alpha`` and ``scale`` are set by
            the conversion and refused. With ``include_top=False`` the
            classifier's keys are left unused.

    Example:
        >>> import torchvision  # doctest: +SKIP
        >>> tv = torchvision.models.mobilenet_v3_small(weights="DEFAULT")  # doctest: +SKIP
        >>> model = from_torchvision("mobilenet_v3_small", tv.state_dict())  # doctest: +SKIP
    """
    from keras_lightnets.registry import create_model

    check_choice("name", name, tuple(TORCHVISION_MODELS))
    fixed = sorted(set(model_kwargs) & set(_FIXED_ARGUMENTS))
    if fixed:
        raise ValueError(
            f"from_torchvision sets {fixed} itself (an exact conversion needs torchvision's values); "
            "remove them from the arguments."
        )
    tensors = _as_numpy_dict(state_dict)
    epsilon, momentum, classifier_key = TORCHVISION_MODELS[name]
    kwargs: dict[str, Any] = dict(classifier_activation=None, include_preprocessing=False)
    if classifier_key in tensors and tensors[classifier_key].ndim == 2:
        kwargs["classes"] = int(tensors[classifier_key].shape[0])
    if name == "mobilenet_v2":
        kwargs["dropout"] = 0.2  # torchvision's classifier dropout (training only)
    kwargs.update(model_kwargs)
    model = create_model(name, padding="symmetric", bn_epsilon=epsilon, bn_momentum=momentum, **kwargs)

    names = {layer.name for layer in model.layers}
    if name.startswith("shufflenet"):
        keys = _shufflenet_v2_keys(names)
    else:
        keys = _inverted_residual_keys(names, v2=name == "mobilenet_v2")
    assignments, missing, misshapen, used = [], [], [], set()
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in keys:
            raise ValueError(f"No torchvision module is known for layer {layer.name!r} of {name}.")
        converted = _keras_arrays(layer, keys[layer.name], tensors)
        for key, (array, shape) in converted.items():
            used.add(key)
            if array is None:
                missing.append(key)
            elif tuple(array.shape) != shape:
                misshapen.append(f"{key}: checkpoint {tensors[key].shape}, model needs {shape} (Keras layout)")
        assignments.append((layer, [array for array, _ in converted.values()]))
    head = tuple(f"{keys[n]}." for n in ("predictions", "pre_logits", "logits") if n in keys)
    unexpected = sorted(
        key
        for key in tensors
        if key not in used
        and not key.endswith("num_batches_tracked")
        and not (kwargs.get("include_top", True) is False and key.startswith(head))
    )
    if missing or unexpected or misshapen:
        def listing(items: list[str]) -> str:
            return ", ".join(items[:10]) + (f" ... ({len(items)} in all)" if len(items) > 10 else "")

        raise ValueError(
            f"The state_dict does not fit torchvision's {name}: missing keys [{listing(missing)}]; "
            f"unexpected keys [{listing(unexpected)}]; misshapen keys [{listing(misshapen)}]."
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)
    return model
