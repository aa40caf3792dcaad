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


def test_model_functions_keep_their_signatures_and_docstrings():
    """The signatures and docstrings of 0.2.0's hand-written model functions, recorded in
    tests/data/model_functions.json before they were generated by ``model_function`` (one change since:
    MobileNetV1's docstring points to the documentation's Models page instead of the README)."""
    import json
    import pathlib

    from tests.helpers import MODEL_FUNCTIONS

    recorded = json.loads((pathlib.Path(__file__).parent / "data" / "model_functions.json").read_text(encoding="utf-8"))
    assert sorted(recorded) == sorted(function.__name__ for function in MODEL_FUNCTIONS)
    for function in MODEL_FUNCTIONS:
        assert str(inspect.signature(function)) == recorded[function.__name__]["signature"], function.__name__
        assert inspect.getdoc(function) == recorded[function.__name__]["doc"], function.__name__


def test_model_function_refuses_an_order_that_misses_or_repeats_an_argument():
    from keras_lightnets.models.args import ANY_SIZE, SHARED_PARAMETERS, model_function

    def build(args, *, width=8):
        """Args:
            width: channels.
            {shared_args}
        """

    complete = "width " + " ".join(SHARED_PARAMETERS)
    assert list(inspect.signature(model_function(complete, default_size=ANY_SIZE)(build)).parameters)[0] == "width"
    for order in (complete.replace(" padding", ""), complete + " name", " ".join(SHARED_PARAMETERS)):
        with pytest.raises(ValueError, match="`order` must list"):
            model_function(order, default_size=ANY_SIZE)(build)
    with pytest.raises(ValueError, match="`defaults` must name shared arguments"):
        model_function(complete, default_size=ANY_SIZE, momentum=0.9)


def test_each_block_default_has_one_place_and_the_models_use_their_blocks_defaults():
    from keras_lightnets import blocks
    from keras_lightnets.models import MobileNetV1, MobileNetV2, MobileNetV3Small, MobileNetV4, ShuffleNetV1, ShuffleNetV2

    def defaults(function):
        parameters = inspect.signature(function).parameters
        return parameters["bn_momentum"].default, parameters["bn_epsilon"].default

    keras_bn = (blocks.KERAS_BN_MOMENTUM, blocks.KERAS_BN_EPSILON)
    torch_bn = (blocks.TORCH_BN_MOMENTUM, blocks.TORCH_BN_EPSILON)
    assert keras_bn == (0.999, 1e-3) and torch_bn == (0.9, 1e-5)  # keras.applications V2/V3; PyTorch's BatchNorm2d
    for block, model in [
        (blocks.depthwise_separable, MobileNetV1), (blocks.bottleneck, MobileNetV2), (blocks.bottleneck, MobileNetV3Small),
        (blocks.shuffle_unit, ShuffleNetV1), (blocks.shuffle_v2_unit, ShuffleNetV2),
        (blocks.universal_inverted_bottleneck, MobileNetV4), (blocks.fused_inverted_bottleneck, MobileNetV4),
        (blocks.mobile_mqa, MobileNetV4),
    ]:
        assert defaults(block) == defaults(model), (block.__name__, model.__name__)
    assert defaults(blocks.conv_block) == keras_bn and defaults(blocks.depthwise_separable) == (0.99, 1e-3)
    assert defaults(blocks.shuffle_unit) == torch_bn
