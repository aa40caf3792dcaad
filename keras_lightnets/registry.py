"""Every model variant by a snake_case name: ``list_models`` / ``create_model``."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import keras

from keras_lightnets.models import (
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    ShuffleNetV1,
    ShuffleNetV2,
)
from keras_lightnets.models.shufflenet_v1 import SHUFFLENET_V1_CHANNELS, SHUFFLENET_V1_SCALES
from keras_lightnets.models.shufflenet_v2 import SHUFFLENET_V2_CHANNELS

__all__ = ["ModelEntry", "create_model", "get_entry", "list_models"]


class ModelEntry(NamedTuple):
    """A registered variant: the model function and the arguments it fixes."""

    name: str
    builder: Callable[..., keras.Model]
    fixed: dict[str, Any]


def _width_suffix(alpha: float) -> str:
    return f"{round(alpha * 100):03d}"


def _scale_suffix(scale: float) -> str:
    """1.0 -> 'x1_0', 1.5 -> 'x1_5', 0.25 -> 'x0_25' (torchvision's style)."""
    text = f"{scale:g}"
    if "." not in text:
        text += ".0"
    return "x" + text.replace(".", "_")


def _entries() -> dict[str, ModelEntry]:
    table: list[ModelEntry] = []
    for alpha in (1.0, 0.75, 0.5, 0.25):
        suffix = "" if alpha == 1.0 else f"_{_width_suffix(alpha)}"
        table.append(ModelEntry(f"mobilenet_v1{suffix}", MobileNetV1, {"alpha": alpha}))
    for alpha in (1.0, 1.4, 1.3, 0.75, 0.5, 0.35):
        suffix = "" if alpha == 1.0 else f"_{_width_suffix(alpha)}"
        table.append(ModelEntry(f"mobilenet_v2{suffix}", MobileNetV2, {"alpha": alpha}))
    for size, builder in (("large", MobileNetV3Large), ("small", MobileNetV3Small)):
        base = f"mobilenet_v3_{size}"
        table.append(ModelEntry(base, builder, {"alpha": 1.0, "minimalistic": False}))
        table.append(ModelEntry(f"{base}_075", builder, {"alpha": 0.75, "minimalistic": False}))
        table.append(
            ModelEntry(f"{base}_minimalistic", builder, {"alpha": 1.0, "minimalistic": True})
        )
    for groups in SHUFFLENET_V1_CHANNELS:
        for scale in SHUFFLENET_V1_SCALES:
            table.append(
                ModelEntry(
                    f"shufflenet_v1_g{groups}_{_scale_suffix(scale)}",
                    ShuffleNetV1,
                    {"groups": groups, "scale": scale},
                )
            )
    for scale in SHUFFLENET_V2_CHANNELS:
        table.append(ModelEntry(f"shufflenet_v2_{_scale_suffix(scale)}", ShuffleNetV2, {"scale": scale}))
    return {entry.name: entry for entry in table}


_REGISTRY = _entries()


def list_models() -> list[str]:
    """Names of every registered variant, sorted.

    Example:
        >>> "mobilenet_v3_large" in list_models()
        True
    """
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; ``ValueError`` for an unknown name.

    Example:
        >>> get_entry("mobilenet_v2_035").fixed
        {'alpha': 0.35}
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; received {name!r} of type {type(name).__name__}.")
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown model name {name!r}; `name` must be one of {list_models()}."
        )
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any) -> keras.Model:
    """Build the registered variant ``name``; ``kwargs`` go to its model function.

    Arguments fixed by the name (``alpha``, ``minimalistic``) may be repeated
    with the same value but not changed.

    Example:
        >>> model = create_model("mobilenet_v3_small", input_shape=(96, 96, 3), classes=10)
        >>> model.output_shape
        (None, 10)
    """
    entry = get_entry(name)
    for key, value in entry.fixed.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"`{key}` is fixed to {value!r} by the model name {name!r}; received "
                f"{key}={kwargs[key]!r}. Use the model function directly for other values."
            )
    return entry.builder(**{**kwargs, **entry.fixed})
