"""The published checkpoints: which file serves which variant, where it lives, its hash and accuracy.

Pure data and lookup rules; nothing here downloads or builds anything.

* ``keras.applications``' ImageNet files for MobileNetV1/V2/V3 (same origins,
  file names and, for V3, MD5 hashes as ``keras.applications``), chosen by
  :func:`imagenet_file` with ``keras.applications``' rules.
* torchvision's ImageNet checkpoints, converted by
  :func:`keras_lightnets.convert.from_torchvision`.

:func:`pretrained_for` lists them per registered variant, as torchvision's
``Weights`` enums do (the registry attaches them to its entries).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from keras_lightnets.validation import check_bool, warn_caller

__all__ = [
    "IMAGENET_ALPHAS",
    "IMAGENET_SIZES",
    "KERAS_APPLICATIONS_URL",
    "Pretrained",
    "TORCHVISION_CHECKPOINTS",
    "WeightsFile",
    "imagenet_class_names",
    "imagenet_file",
    "pretrained_for",
]

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
TORCHVISION_URL = "https://download.pytorch.org/models/"

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
# ImageNet top-1 (%) at 224 of those files, as published: keras.applications' module
# docs (V1, V3) and the TF-slim checkpoints' table (V2). Key: (family, alpha, minimalistic).
IMAGENET_TOP1: dict[tuple[str, float, bool], float] = {
    ("mobilenet_v1", 1.0, False): 70.6,
    ("mobilenet_v1", 0.75, False): 68.4,
    ("mobilenet_v1", 0.5, False): 63.7,
    ("mobilenet_v1", 0.25, False): 50.6,
    ("mobilenet_v2", 1.4, False): 75.0,
    ("mobilenet_v2", 1.3, False): 74.4,
    ("mobilenet_v2", 1.0, False): 71.8,
    ("mobilenet_v2", 0.75, False): 69.8,
    ("mobilenet_v2", 0.5, False): 65.4,
    ("mobilenet_v2", 0.35, False): 60.3,
    ("mobilenet_v3_large", 1.0, False): 75.6,
    ("mobilenet_v3_large", 0.75, False): 73.3,
    ("mobilenet_v3_large", 1.0, True): 72.3,
    ("mobilenet_v3_small", 1.0, False): 68.1,
    ("mobilenet_v3_small", 0.75, False): 65.4,
    ("mobilenet_v3_small", 1.0, True): 61.9,
}
KERAS_PREPROCESSING = {
    "mobilenet_v1": "RGB scaled to [-1, 1] (x / 127.5 - 1), or [0, 255] with include_preprocessing=True",
    "mobilenet_v2": "RGB scaled to [-1, 1] (x / 127.5 - 1), or [0, 255] with include_preprocessing=True",
    "mobilenet_v3_large": "RGB in [0, 255] (rescaled inside the model)",
    "mobilenet_v3_small": "RGB in [0, 255] (rescaled inside the model)",
}
TORCHVISION_PREPROCESSING = (
    "RGB in [0, 1], minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)"
)
# torchvision's checkpoints: registry name -> ((weights enum member, file, top-1 %), ...),
# from torchvision's Weights metadata (the file name carries a SHA-256 prefix).
TORCHVISION_CHECKPOINTS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "mobilenet_v2": (
        ("IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 71.878),
        ("IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth", 72.154),
    ),
    "mobilenet_v3_large": (
        ("IMAGENET1K_V1", "mobilenet_v3_large-8738ca79.pth", 74.042),
        ("IMAGENET1K_V2", "mobilenet_v3_large-5c1a4163.pth", 75.274),
    ),
    "mobilenet_v3_small": (("IMAGENET1K_V1", "mobilenet_v3_small-047dcff4.pth", 67.668),),
    "shufflenet_v2_x0_5": (("IMAGENET1K_V1", "shufflenetv2_x0.5-f707e7126e.pth", 60.552),),
    "shufflenet_v2_x1_0": (("IMAGENET1K_V1", "shufflenetv2_x1-5666bf0f80.pth", 69.362),),
    "shufflenet_v2_x1_5": (("IMAGENET1K_V1", "shufflenetv2_x1_5-3c479a10.pth", 72.996),),
    "shufflenet_v2_x2_0": (("IMAGENET1K_V1", "shufflenetv2_x2_0-8be3c8ee.pth", 76.230),),
}


class WeightsFile(NamedTuple):
    """One published file: cache name, URL and hash (None: the publisher gives none)."""

    fname: str
    origin: str
    file_hash: str | None


class Pretrained(NamedTuple):
    """A published checkpoint of one registered variant (cf. torchvision's ``Weights``)."""

    tag: str  # "imagenet" or "torchvision:IMAGENET1K_V1"
    how: str  # how to load it
    top1: float  # published ImageNet top-1 (%), 224x224
    preprocessing: str  # the input the weights expect
    files: tuple[WeightsFile, ...]  # every file (per input size, with and without the top)


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
) -> WeightsFile:
    """The ``keras.applications`` ImageNet file for a model, with its rules.

    ``alpha`` must be a published width, ``classes`` 1000 with the top and the
    input 3-channel. Like ``keras.applications``, a non-square input or a size
    without its own file loads the 224 file with a warning (the weights do not
    depend on the size). ShuffleNets have no Keras file: use
    :func:`keras_lightnets.convert.from_torchvision` for ShuffleNetV2.

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

    Examples:
        >>> imagenet_file("mobilenet_v2", alpha=0.35, input_shape=(96, 96, 3)).fname
        'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5'
    """
    if family not in IMAGENET_ALPHAS:
        raise ValueError(
            f"`weights='imagenet'` is published for {sorted(IMAGENET_ALPHAS)} only; received "
            f"a {family!r} model. For ShuffleNetV2 convert torchvision's checkpoint with "
            "keras_lightnets.convert.from_torchvision; for MobileNetV4, timm's with "
            "keras_lightnets.convert.from_timm."
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
        warn_caller(
            f"`input_shape` is undefined or non-square, or `rows` is not in {list(sizes)}. "
            "Weights for input shape (224, 224) will be loaded as the default."
        )
        rows = 224
    return _keras_file(family, alpha, minimalistic, rows, include_top)


def _keras_file(family: str, alpha: float, minimalistic: bool, rows: int, include_top: bool) -> WeightsFile:
    """File name, URL and hash of one keras.applications file (arguments already checked)."""
    suffix = "" if include_top else "_no_top"
    if family == "mobilenet_v1":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        folder, fname, file_hash = "mobilenet", f"mobilenet_{alpha_text}_{rows}_tf{suffix}.h5", None
    elif family == "mobilenet_v2":
        folder, file_hash = "mobilenet_v2", None
        fname = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
    else:
        size = family.rsplit("_", 1)[1]
        key = f"{size}{'_minimalistic' if minimalistic else ''}_224_{float(alpha)}_float"
        top_hash, no_top_hash = MOBILENET_V3_HASHES[key]
        folder = "mobilenet_v3"
        fname = f"weights_mobilenet_v3_{key}.h5" if include_top else f"weights_mobilenet_v3_{key}_no_top_v2.h5"
        file_hash = top_hash if include_top else no_top_hash
    return WeightsFile(fname, f"{KERAS_APPLICATIONS_URL}{folder}/{fname}", file_hash)


def pretrained_for(
    name: str, family: str, alpha: float = 1.0, minimalistic: bool = False
) -> tuple[Pretrained, ...]:
    """Every published checkpoint of the registered variant ``name`` (may be empty).

    Args:
        name: the registry name (e.g. ``"mobilenet_v2_035"``).
        family: its family key (``"mobilenet_v2"``, ``"shufflenet_v2"``, ...).
        alpha: its width multiplier.
        minimalistic: MobileNetV3's minimalistic variant.

    Examples:
        >>> [p.tag for p in pretrained_for("mobilenet_v3_small", "mobilenet_v3_small")]
        ['imagenet', 'torchvision:IMAGENET1K_V1']
    """
    found = []
    top1 = IMAGENET_TOP1.get((family, alpha, minimalistic))
    if top1 is not None:
        files = tuple(
            _keras_file(family, alpha, minimalistic, rows, include_top)
            for rows in IMAGENET_SIZES[family]
            for include_top in (True, False)
        )
        found.append(Pretrained("imagenet", 'weights="imagenet"', top1, KERAS_PREPROCESSING[family], files))
    for tag, fname, accuracy in TORCHVISION_CHECKPOINTS.get(name, ()):
        files = (WeightsFile(fname, f"{TORCHVISION_URL}{fname}", None),)
        found.append(
            Pretrained(f"torchvision:{tag}", "convert.from_torchvision", accuracy, TORCHVISION_PREPROCESSING, files)
        )
    return tuple(found)


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet-1k class names in index order, shipped with the package (no download).

    Examples:
        >>> imagenet_class_names()[:3]
        ['tench', 'goldfish', 'great white shark']
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")
    with open(path, encoding="utf-8") as file:
        return [line.rstrip("\n") for line in file]
