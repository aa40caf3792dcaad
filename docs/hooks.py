"""MkDocs hooks: the site's generated parts, made while it is built (never copied by hand).

* ``<!-- models-table: TASK -->`` becomes ``keras_lightnets.registry.models_table(TASK)``;
* ``<!-- include: benchmarks/results/NAME.md -->`` becomes that results file, its headings one
  level down and its title anchored as ``#NAME`` (pages link to ``benchmarks.md#NAME``);
* the benchmark plots (``benchmarks/results/*.png``) are added to the site;
* the API reference has one page per public module, rendered from the docstrings by mkdocstrings;
* the home page is the README (its ``docs/`` links made relative); CONTRIBUTING.md and
  CHANGELOG.md are pages too.
"""

from __future__ import annotations

import pathlib
import re
import sys
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROOT_PAGES = ("CONTRIBUTING.md", "CHANGELOG.md")  # served as contributing.md, changelog.md
README = re.compile(r"<!-- readme -->")
TABLE = re.compile(r"<!-- models-table: (classification|detection|segmentation) -->")
INCLUDE = re.compile(r"<!-- include: (benchmarks/results/(\w+)\.md) -->")


def _included(match: re.Match) -> str:
    path, name = ROOT / match.group(1), match.group(2)
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    out, anchored = [], False
    for line in lines:
        if line.startswith("#"):
            line = "#" + line + ("" if anchored else f" {{ #{name} }}")
            anchored = True
        out.append(line)
    return "\n".join(out)


def _table(match: re.Match) -> str:
    if str(ROOT) not in sys.path:  # the site is built from a checkout, installed or not
        sys.path.insert(0, str(ROOT))
    from keras_lightnets.registry import models_table

    return models_table(match.group(1))


def _readme() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("](docs/", "](")
    for name in ROOT_PAGES:
        text = text.replace(f"]({name})", f"]({name.lower()})")
    return text


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Fill the generated tables and the included benchmark results."""
    markdown = README.sub(lambda _: _readme(), markdown)
    return INCLUDE.sub(_included, TABLE.sub(_table, markdown))


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add the API reference pages and serve the benchmark plots at ``benchmarks/results/NAME.png``."""
    for name in ROOT_PAGES:
        files.append(File.generated(config, name.lower(), content=(ROOT / name).read_text(encoding="utf-8")))
    for module in api_modules():
        files.append(File.generated(config, f"api/{module}.md", content=_api_page(module)))
    for plot in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        files.append(File(f"benchmarks/results/{plot.name}", str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def api_modules() -> list[str]:
    """The modules the API reference documents: every public module but the CLI and moved-name shims."""
    package = ROOT / "keras_lightnets"
    found = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
    )
    return [name for name in found if name not in ("keras_lightnets.cli", "keras_lightnets.models.common")]


def _api_page(module: str) -> str:
    package = (ROOT / module.replace(".", "/") / "__init__.py").exists()
    options = "\n    options:\n      members: false" if package else ""
    return f"# `{module}`\n\n::: {module}{options}\n"


def on_config(config: Any, **kwargs: Any) -> Any:
    """Append the API reference (one page per module) to the navigation."""
    config["nav"].append({"API reference": [{module: f"api/{module}.md"} for module in api_modules()]})
    return config
