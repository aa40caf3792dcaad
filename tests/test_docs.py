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
    match = re.search(r"\n([ ]*)Args:\n(.*?)(?:\n[ ]*\n[ ]*(?:Returns|Raises|Examples?|Yields):|\Z)", doc, re.S)
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
        assert "Examples:" in doc, f"{name} has no example"


def test_model_functions_share_one_argument_text():
    from keras_lightnets.models.args import SHARED_ARGS
    from tests.helpers import MODEL_FUNCTIONS

    for function in MODEL_FUNCTIONS:
        doc = inspect.getdoc(function)
        for argument in SHARED_ARGS:
            first_words = " ".join(SHARED_ARGS[argument].split()[:4])
            assert f"{argument}: {first_words}" in " ".join(doc.split()), (function.__name__, argument)


def test_the_documentation_site_builds_strictly(tmp_path):
    """``mkdocs build --strict`` (warnings fail it) with the generated tables, included results and API pages."""
    import html
    import os
    import pathlib
    import subprocess
    import sys

    from keras_lightnets.registry import list_models

    root = pathlib.Path(__file__).resolve().parents[1]
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    def text(page: str) -> str:
        return html.unescape((site / page / "index.html").read_text(encoding="utf-8"))

    for page, task in (("models", "classification"), ("detection", "detection"), ("segmentation", "segmentation")):
        assert "<!-- models-table" not in text(page)
        for name in list_models(task=task):
            assert f"<code>{name}</code>" in text(page), (page, name)
    benchmarks = text("benchmarks")
    for results in sorted((root / "benchmarks" / "results").glob("*.md")):
        title = results.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").split("(")[0].strip()
        assert f'id="{results.stem}"' in benchmarks and html.escape(title, quote=False).split("`")[0] in benchmarks, results.name
    assert (site / "benchmarks" / "results" / "ratios.png").stat().st_size > 1000
    for module in ("keras_lightnets.blocks", "keras_lightnets.quantization", "keras_lightnets.detection.loss"):
        page = text(f"api/{module}")
        assert "Examples:" in page and ">>> " in page, module  # doctest examples shown
    assert "Set-up: the two commands" in text("") and "Moved" in text("changelog")
