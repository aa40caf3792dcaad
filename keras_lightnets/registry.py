"""Every model variant by a snake_case name, with its metadata: ``list_models`` / ``create_model``.

Each :class:`ModelEntry` carries what torchvision's ``Weights`` carry: the
published checkpoints (files, URLs, hashes, preprocessing, top-1: the weights
catalogue), the parameter counts and multiply-adds (classifiers at 224x224 with
1,000 classes, task models at their function's defaults), and the paper's or
reference's MAdds where known. A family's names and figures are declared next to
its table (``VARIANTS`` of its module, :class:`~keras_lightnets.models.network.Variant`).
:func:`models_table` renders the documentation's tables and :func:`families_table`
the README's (tests check the README against it and the numbers against freshly
built models). Task packages above the models (``keras_lightnets.detection``) add
their variants with :func:`register_model` when they are imported, which
``import keras_lightnets`` does.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import keras

from keras_lightnets.models import mobilenet_v1, mobilenet_v2, mobilenet_v3, mobilenet_v4, shufflenet_v1, shufflenet_v2
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


def _entries() -> dict[str, ModelEntry]:
    """Every family's ``VARIANTS`` (declared next to its table), with its published checkpoints."""
    entries = {}
    for family in (mobilenet_v1, mobilenet_v2, mobilenet_v3, mobilenet_v4, shufflenet_v1, shufflenet_v2):
        for variant in family.VARIANTS:
            fixed = variant.fixed
            pretrained = pretrained_for(
                variant.name, variant.family, alpha=fixed.get("alpha", 1.0), minimalistic=fixed.get("minimalistic", False)
            )
            entries[variant.name] = ModelEntry(
                variant.name, variant.builder, fixed, variant.family, variant.params, variant.trainable,
                variant.macs, variant.paper_macs, pretrained,
            )
    return entries


_REGISTRY = _entries()


def register_model(entry: ModelEntry) -> None:
    """Add a variant to the registry (task packages call this when they are imported).

    Args:
        entry: a :class:`ModelEntry` whose name is not registered yet and whose
            ``task`` is one of :data:`TASKS`.

    Examples:
        >>> register_model(get_entry("mobilenet_v2")._replace(name="my_net"))
        >>> get_entry("my_net").builder is get_entry("mobilenet_v2").builder
        True
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
    """How the models tables spell the model function call of ``entry``."""
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
    """The Markdown table of the registered variants of one task (the documentation's), from the registry's metadata.

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
