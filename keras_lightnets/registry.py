"""Every model variant by a snake_case name, with its metadata: ``list_models`` / ``create_model``.

Each :class:`ModelEntry` carries what torchvision's ``Weights`` carry: the
published checkpoints (files, URLs, hashes, preprocessing, top-1), the
parameter counts and multiply-adds (classifiers at 224x224 with 1,000 classes,
task models at their function's defaults), and the paper's or reference's
MAdds where known. :func:`models_table` renders them as the README's tables
(a test checks the README against it and the numbers against freshly built
models). Task packages above the models (``keras_lightnets.detection``) add
their variants with :func:`register_model` when they are imported, which
``import keras_lightnets`` does.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import keras

from keras_lightnets.models import (
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    MobileNetV4,
    ShuffleNetV1,
    ShuffleNetV2,
)
from keras_lightnets.models.mobilenet_v4 import MOBILENET_V4_SPECS
from keras_lightnets.models.shufflenet_v1 import SHUFFLENET_V1_CHANNELS, SHUFFLENET_V1_SCALES
from keras_lightnets.models.shufflenet_v2 import SHUFFLENET_V2_CHANNELS
from keras_lightnets.validation import check_bool, check_choice
from keras_lightnets.weights import Pretrained, pretrained_for

__all__ = ["TASKS", "ModelEntry", "create_model", "get_entry", "families_table", "list_models", "models_table", "register_model"]

TASKS = ("classification", "detection", "segmentation")


class ModelEntry(NamedTuple):
    """A registered variant: its model function, the arguments it fixes, and its metadata."""

    name: str
    builder: Callable[..., keras.Model]
    fixed: dict[str, Any]
    family: str  # "mobilenet_v2", "shufflenet_v1", ...
    params: int  # model.count_params() at 224x224, 1000 classes (BatchNorm statistics included); tasks: defaults
    trainable: int  # trainable parameters (torchvision's count)
    macs: int  # keras_lightnets.count_macs at 224x224 (tasks: at the function's default input)
    paper_macs: str  # the paper's / reference's MAdds ("" where none is published)
    pretrained: tuple[Pretrained, ...]  # published checkpoints
    task: str = "classification"  # one of TASKS
    defaults: dict[str, Any] = {}  # arguments the name sets unless given (e.g. a detector's reduced_tail)


# name -> (Keras params, trainable, MAdds) at 224x224x3, 1000 classes, as the builders
# produce them (tests/test_registry.py rebuilds every one and compares).
_METRICS: dict[str, tuple[int, int, int]] = {
    "mobilenet_v1": (4253864, 4231976, 568740352),
    "mobilenet_v1_075": (2601976, 2585560, 325400448),
    "mobilenet_v1_050": (1342536, 1331592, 149497088),
    "mobilenet_v1_025": (475544, 470072, 41030272),
    "mobilenet_v2_140": (6156712, 6108776, 582195824),
    "mobilenet_v2_130": (5431048, 5386792, 509374560),
    "mobilenet_v2": (3538984, 3504872, 300774272),
    "mobilenet_v2_075": (2663064, 2636424, 209069792),
    "mobilenet_v2_050": (1987224, 1968680, 97131840),
    "mobilenet_v2_035": (1691208, 1677128, 59285808),
    "mobilenet_v3_large": (5507432, 5483032, 216589760),
    "mobilenet_v3_large_075": (4012616, 3993528, 154560624),
    "mobilenet_v3_large_minimalistic": (3948688, 3924288, 209136704),
    "mobilenet_v3_small": (2554968, 2542856, 56510400),
    "mobilenet_v3_small_075": (2051552, 2041872, 43399344),
    "mobilenet_v3_small_minimalistic": (2056848, 2044736, 52288448),
    "mobilenet_v4_conv_small": (3799112, 3774024, 186005568),
    "mobilenet_v4_conv_medium": (9783416, 9715512, 827649984),
    "mobilenet_v4_conv_large": (32740416, 32590864, 2171341312),
    "mobilenet_v4_hybrid_medium": (11150488, 11074648, 966311360),
    "mobilenet_v4_hybrid_large": (37929024, 37764624, 2549568000),
    "shufflenet_v1_g1_x0_25": (213580, 209908, 13162320),
    "shufflenet_v1_g2_x0_25": (273132, 267964, 13472728),
    "shufflenet_v1_g3_x0_25": (312244, 306124, 13300656),
    "shufflenet_v1_g4_x0_25": (346828, 339756, 13480048),
    "shufflenet_v1_g8_x0_25": (464680, 454888, 15719040),
    "shufflenet_v1_g1_x0_5": (541828, 534484, 38517408),
    "shufflenet_v1_g2_x0_5": (654560, 644320, 38914784),
    "shufflenet_v1_g3_x0_5": (730564, 718324, 37589856),
    "shufflenet_v1_g4_x0_5": (792544, 778592, 37943936),
    "shufflenet_v1_g8_x0_5": (1031032, 1011448, 40469760),
    "shufflenet_v1_g1_x1_0": (1546624, 1531936, 143078976),
    "shufflenet_v1_g2_x1_0": (1754248, 1733848, 140836512),
    "shufflenet_v1_g3_x1_0": (1890208, 1865728, 137460672),
    "shufflenet_v1_g4_x1_0": (1996088, 1968344, 134339776),
    "shufflenet_v1_g8_x1_0": (2473936, 2434768, 138365952),
    "shufflenet_v1_g1_x1_5": (3015064, 2993032, 308096352),
    "shufflenet_v1_g2_x1_5": (3304040, 3273400, 303198368),
    "shufflenet_v1_g3_x1_5": (3478888, 3442168, 292443552),
    "shufflenet_v1_g4_x1_5": (3617232, 3575536, 287149120),
    "shufflenet_v1_g8_x1_5": (4328704, 4269952, 290188800),
    "shufflenet_v1_g1_x2_0": (4948120, 4918744, 550334592),
    "shufflenet_v1_g2_x2_0": (5298696, 5257896, 539138624),
    "shufflenet_v1_g3_x2_0": (5499736, 5450776, 524045184),
    "shufflenet_v1_g4_x2_0": (5649016, 5593528, 510289536),
    "shufflenet_v1_g8_x2_0": (6600568, 6522232, 521942016),
    "shufflenet_v2_x0_5": (1374744, 1366792, 40476448),
    "shufflenet_v2_x1_0": (2294784, 2278604, 144907992),
    "shufflenet_v2_x1_5": (3527064, 3503624, 295759392),
    "shufflenet_v2_x2_0": (7427712, 7393996, 583253464),
}
# name -> the paper's / reference's MAdds (and where it comes from when not the paper).
_PAPER_MACS: dict[str, str] = {
    "mobilenet_v1": "569 M",
    "mobilenet_v1_075": "325 M",
    "mobilenet_v1_050": "149 M",
    "mobilenet_v1_025": "41 M",
    "mobilenet_v2_140": "585 M",
    "mobilenet_v2_130": "509 M",
    "mobilenet_v2": "300 M",
    "mobilenet_v2_075": "209 M",
    "mobilenet_v2_050": "97 M",
    "mobilenet_v2_035": "59 M",
    "mobilenet_v3_large": "219 M",
    "mobilenet_v3_large_075": "155 M",
    "mobilenet_v3_large_minimalistic": "209 M",
    "mobilenet_v3_small": "56 M",
    "mobilenet_v3_small_075": "44 M",
    "shufflenet_v1_g1_x1_0": "143 M",
    "shufflenet_v1_g2_x1_0": "140 M",
    "shufflenet_v1_g3_x1_0": "137 M (megvii: 138 M)",
    "shufflenet_v1_g4_x1_0": "133 M",
    "shufflenet_v1_g8_x1_0": "137 M (megvii: 138 M)",
    "shufflenet_v1_g3_x0_25": "13 M",
    "shufflenet_v1_g3_x0_5": "38 M",
    "shufflenet_v1_g3_x1_5": "292 M (megvii)",
    "shufflenet_v1_g3_x2_0": "524 M (megvii)",
    "shufflenet_v1_g8_x0_5": "40 M (megvii)",
    "shufflenet_v1_g8_x1_5": "290 M (megvii)",
    "shufflenet_v1_g8_x2_0": "522 M (megvii)",
    "shufflenet_v2_x0_5": "41 M",
    "shufflenet_v2_x1_0": "146 M",
    "shufflenet_v2_x1_5": "299 M",
    "shufflenet_v2_x2_0": "591 M",
}


def _width_suffix(alpha: float) -> str:
    return f"{round(alpha * 100):03d}"


def _scale_suffix(scale: float) -> str:
    """1.0 -> 'x1_0', 1.5 -> 'x1_5', 0.25 -> 'x0_25' (torchvision's style)."""
    text = f"{scale:g}"
    if "." not in text:
        text += ".0"
    return "x" + text.replace(".", "_")


def _variants() -> list[tuple[str, Callable[..., keras.Model], dict[str, Any], str]]:
    """(name, builder, fixed arguments, family) of every variant, in the README's order."""
    table: list[tuple[str, Callable[..., keras.Model], dict[str, Any], str]] = []
    for alpha in (1.0, 0.75, 0.5, 0.25):
        suffix = "" if alpha == 1.0 else f"_{_width_suffix(alpha)}"
        table.append((f"mobilenet_v1{suffix}", MobileNetV1, {"alpha": alpha}, "mobilenet_v1"))
    for alpha in (1.4, 1.3, 1.0, 0.75, 0.5, 0.35):
        suffix = "" if alpha == 1.0 else f"_{_width_suffix(alpha)}"
        table.append((f"mobilenet_v2{suffix}", MobileNetV2, {"alpha": alpha}, "mobilenet_v2"))
    for size, builder in (("large", MobileNetV3Large), ("small", MobileNetV3Small)):
        base = f"mobilenet_v3_{size}"
        table.append((base, builder, {"alpha": 1.0, "minimalistic": False}, base))
        table.append((f"{base}_075", builder, {"alpha": 0.75, "minimalistic": False}, base))
        table.append((f"{base}_minimalistic", builder, {"alpha": 1.0, "minimalistic": True}, base))
    for variant in MOBILENET_V4_SPECS:
        table.append((f"mobilenet_v4_{variant}", MobileNetV4, {"variant": variant}, "mobilenet_v4"))
    for scale in SHUFFLENET_V1_SCALES:
        for groups in SHUFFLENET_V1_CHANNELS:
            name = f"shufflenet_v1_g{groups}_{_scale_suffix(scale)}"
            table.append((name, ShuffleNetV1, {"groups": groups, "scale": scale}, "shufflenet_v1"))
    for scale in SHUFFLENET_V2_CHANNELS:
        table.append((f"shufflenet_v2_{_scale_suffix(scale)}", ShuffleNetV2, {"scale": scale}, "shufflenet_v2"))
    return table


def _entries() -> dict[str, ModelEntry]:
    entries = {}
    for name, builder, fixed, family in _variants():
        params, trainable, macs = _METRICS[name]
        pretrained = pretrained_for(
            name, family, alpha=fixed.get("alpha", 1.0), minimalistic=fixed.get("minimalistic", False)
        )
        entries[name] = ModelEntry(
            name, builder, fixed, family, params, trainable, macs, _PAPER_MACS.get(name, ""), pretrained
        )
    return entries


_REGISTRY = _entries()


def register_model(entry: ModelEntry) -> None:
    """Add a variant to the registry (task packages call this when they are imported).

    Args:
        entry: a :class:`ModelEntry` whose name is not registered yet and whose
            ``task`` is one of :data:`TASKS`.

    Examples:
        >>> register_model(get_entry("mobilenet_v2")._replace(name="my_net"))  # doctest: +SKIP
    """
    if not isinstance(entry, ModelEntry):
        raise TypeError(f"`entry` must be a ModelEntry; received {type(entry).__name__}.")
    if not isinstance(entry.name, str) or not entry.name:
        raise ValueError(f"`entry.name` must be a non-empty str; received {entry.name!r}.")
    if entry.name in _REGISTRY:
        raise ValueError(f"The model name {entry.name!r} is registered already; choose another name.")
    check_choice("entry.task", entry.task, TASKS)
    _REGISTRY[entry.name] = entry


def list_models(pretrained: bool = False, task: str | None = None) -> list[str]:
    """Names of every registered variant, sorted; ``pretrained=True``: those with a published checkpoint.

    Args:
        pretrained: only names with at least one entry in ``get_entry(name).pretrained``.
        task: only the variants of one of :data:`TASKS`; None lists every task.

    Examples:
        >>> "mobilenet_v3_large" in list_models()
        True
        >>> "shufflenet_v1_g3_x1_0" in list_models(pretrained=True)
        False
        >>> "ssdlite_mobilenet_v2" in list_models(task="detection")
        True
    """
    check_bool("pretrained", pretrained)
    if task is not None:
        check_choice("task", task, TASKS)
    return sorted(
        name for name, entry in _REGISTRY.items()
        if (entry.pretrained or not pretrained) and task in (None, entry.task)
    )


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; ``ValueError`` for an unknown name.

    Args:
        name: a registered name (see :func:`list_models`).

    Examples:
        >>> get_entry("mobilenet_v2_035").fixed
        {'alpha': 0.35}
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; received {name!r} of type {type(name).__name__}.")
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model name {name!r}; `name` must be one of {list_models()}.")
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any) -> keras.Model:
    """Build the registered variant ``name``; ``kwargs`` go to its model function.

    Arguments fixed by the name (``alpha``, ``minimalistic``, ``groups``,
    ``scale``, a detector's ``backbone_name``) may be repeated with the same
    value but not changed; its ``defaults`` (a detector's ``reduced_tail``) may.

    Args:
        name: a registered name (see :func:`list_models`).
        **kwargs: arguments of the model function (``input_shape``, ``classes``, ...).

    Examples:
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
    return entry.builder(**{**entry.defaults, **kwargs, **entry.fixed})


def _call(entry: ModelEntry) -> str:
    """How the README spells the model function call of ``entry``."""
    shown = {k: v for k, v in {**entry.fixed, **entry.defaults}.items() if not (k in ("alpha", "scale") and v == 1.0) and v is not False}
    if entry.family == "shufflenet_v1":
        return f"`ShuffleNetV1({entry.fixed['groups']}, {entry.fixed['scale']:g})`"
    if entry.family == "mobilenet_v4":
        return f"`MobileNetV4({entry.fixed['variant']!r})`"
    if entry.family == "shufflenet_v2":
        return f"`ShuffleNetV2({entry.fixed['scale']:g})`"
    arguments = [repr(shown.pop("backbone_name"))] if "backbone_name" in shown else []  # detectors
    arguments += [f"{k}={v!r}" for k, v in shown.items()]
    return f"`{entry.builder.__name__}({', '.join(arguments)})`"


def models_table(task: str = "classification") -> str:
    """The README's Markdown table of the registered variants of one task, from the registry's metadata.

    Args:
        task: one of :data:`TASKS`.

    Examples:
        >>> models_table().splitlines()[0].startswith("| registry name |")
        True
    """
    check_choice("task", task, TASKS)
    lines = [
        "| registry name | function | Keras params | trainable | MAdds | paper / reference MAdds | pretrained (top-1 %) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for entry in (entry for entry in _REGISTRY.values() if entry.task == task):
        pretrained = ", ".join(f"{p.tag} {p.top1:g}" for p in entry.pretrained)
        lines.append(
            f"| `{entry.name}` | {_call(entry)} | {entry.params:,d} | {entry.trainable:,d} | "
            f"{entry.macs / 1e6:.1f} M | {entry.paper_macs} | {pretrained} |"
        )
    return "\n".join(lines)


def families_table() -> str:
    """The README's short Markdown table: one row per task and family, from the registry's metadata.

    Rows give the number of registered names, the range of trainable parameters and of MAdds
    (224x224 classifiers; detectors and segmenters at their default input) and the published
    checkpoint sources; :func:`models_table` lists every name.

    Examples:
        >>> families_table().splitlines()[0]
        '| task | family | names | trainable params | MAdds | pretrained |'
    """
    groups: dict[tuple[str, str], list[ModelEntry]] = {}
    for entry in _REGISTRY.values():
        groups.setdefault((entry.task, entry.family), []).append(entry)
    lines = ["| task | family | names | trainable params | MAdds | pretrained |", "|---|---|---:|---:|---:|---|"]

    def span(values: list[float], digits: int) -> str:
        low, high = (f"{value:.{digits}f}" for value in (min(values), max(values)))
        return f"{low} M" if low == high else f"{low}-{high} M"

    for (task, family), entries in groups.items():
        sources = sorted({p.tag.split(":")[0] for entry in entries for p in entry.pretrained})
        lines.append(
            f"| {task} | {family} | {len(entries)} | {span([e.trainable / 1e6 for e in entries], 1)} | "
            f"{span([e.macs / 1e6 for e in entries], 0)} | {', '.join(sources)} |"
        )
    return "\n".join(lines)
