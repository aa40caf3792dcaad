"""Every public function documents exactly the arguments it takes, with an example."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import keras_lightnets


def _public_callables() -> list[tuple[str, object]]:
    found = {}
    for info in pkgutil.walk_packages(keras_lightnets.__path__, "keras_lightnets."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            item = getattr(module, name)
            if inspect.isfunction(item) and item.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = item
            elif inspect.isclass(item) and item.__module__ == module.__name__:
                for method_name, method in vars(item).items():
                    public = not method_name.startswith("_") or method_name == "__init__"
                    if public and inspect.isfunction(method) and method.__doc__ is not None:
                        found[f"{module.__name__}.{name}.{method_name}"] = method
    return sorted(found.items())


PUBLIC = _public_callables()


def _documented(doc: str) -> list[str]:
    """Names listed in the ``Args:`` section (``a, b: text`` lists two)."""
    match = re.search(r"\n([ ]*)Args:\n(.*?)(?:\n[ ]*\n[ ]*(?:Returns|Raises|Example|Yields):|\Z)", doc, re.S)
    if not match:
        return []
    indent = len(match[1]) + 4
    names = []
    for line in match[2].splitlines():
        if len(line) - len(line.lstrip()) == indent and ":" in line:
            head = line.strip().split(":")[0]
            names += [n.strip() for n in head.split(",")]
    return names


def _parameters(function: object) -> list[str]:
    names = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        prefix = {inspect.Parameter.VAR_KEYWORD: "**", inspect.Parameter.VAR_POSITIONAL: "*"}.get(parameter.kind, "")
        names.append(prefix + parameter.name)
    return names


def test_the_walk_finds_the_model_functions_and_blocks():
    names = {name.rsplit(".", 1)[1] for name, _ in PUBLIC}
    assert {"MobileNetV1", "ShuffleNetV2", "conv_block", "shuffle_unit", "to_tflite", "fit"} <= names


@pytest.mark.parametrize("name, function", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_documented_arguments_equal_the_signature(name, function):
    doc = inspect.getdoc(function) or ""
    parameters = _parameters(function)
    assert doc, f"{name} has no docstring"
    if parameters:
        assert sorted(_documented("\n" + doc)) == sorted(parameters), f"{name}: Args section vs signature"
    if not name.endswith((".__init__", ".get_config", ".summary", ".check", ".step", ".tap", ".features", ".info")):
        assert "Example:" in doc, f"{name} has no example"


def test_model_functions_share_one_argument_text():
    from keras_lightnets.models.args import SHARED_ARGS
    from tests.helpers import MODEL_FUNCTIONS

    for function in MODEL_FUNCTIONS:
        doc = inspect.getdoc(function)
        for argument in SHARED_ARGS:
            first_words = " ".join(SHARED_ARGS[argument].split()[:4])
            assert f"{argument}: {first_words}" in " ".join(doc.split()), (function.__name__, argument)
