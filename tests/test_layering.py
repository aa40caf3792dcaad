"""The package's layering, checked on the source: no import circles, no imports dodging one.

keras_lightnets: validation, deprecation -> files, testing -> layers -> blocks -> weights -> models
-> registry -> convert, features, macs, transfer -> latency, calibration, rewrites, evaluation, quantization
-> litert -> export -> data, synthetic -> tasks -> detection, segmentation -> train, predict -> cli. A module imports only from lower layers (or from its
own package, without circles); every import of a keras_lightnets module sits at module
level. benchmarks/ has no circles and does not import the tests.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = [
    {"validation", "deprecation"},
    {"files", "testing"},
    {"layers"},
    {"blocks"},
    {"weights"},
    {"models"},
    {"registry"},
    {"convert", "features", "macs", "transfer"},
    {"latency", "calibration", "rewrites", "evaluation", "quantization"},
    {"litert"},
    {"export"},
    {"data", "synthetic"},
    {"tasks"},
    {"detection", "segmentation"},
    {"train", "predict"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(package: str) -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(name: str, known: dict[str, pathlib.Path]) -> str | None:
    """The known module ``name`` refers to (a module, or the package holding an attribute)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: pathlib.Path, package: str, known: dict[str, pathlib.Path]) -> tuple[set[str], list[str]]:
    """(modules imported at module level, imports found inside functions) of ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, nested = set(), []

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            return [f"{node.module}.{alias.name}" for alias in node.names]
        return []

    for node in tree.body:
        for name in targets(node):
            if name.split(".")[0] == package:
                top.add(_resolve(name, known))
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                nested += [f"{function.name}: {n}" for n in targets(node) if n.split(".")[0] in ("keras_lightnets", "benchmarks", "tests")]
    return top, nested


def _graph(package: str) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    known = _modules(package)
    graph, nested = {}, {}
    for name, path in known.items():
        imported, inside = _imports(path, package, known)
        graph[name] = {m for m in imported if m and m != name and not (name.startswith(m + ".") and m == package)}
        nested[name] = inside
    return graph, nested


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return stack[stack.index(child):] + [child]
            if child not in state and (found := visit(child)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


@pytest.mark.parametrize("package", ["keras_lightnets", "benchmarks"])
def test_no_import_circles_and_no_imports_inside_functions(package):
    graph, nested = _graph(package)
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph))}"
    assert {m: n for m, n in nested.items() if n} == {}


def test_every_module_has_a_layer_and_imports_only_downwards():
    graph, _ = _graph("keras_lightnets")
    modules = {m for m in graph if m != "keras_lightnets"}
    assert {_layer(m) for m in modules} == set(RANK), "a module without a layer, or a layer without a module"
    upward = [
        f"{m} -> {t}"
        for m in sorted(modules)
        for t in sorted(graph[m])
        if t != "keras_lightnets" and _layer(t) != _layer(m) and RANK[_layer(t)] >= RANK[_layer(m)]
    ]
    assert upward == []
    assert all("keras_lightnets" not in targets or m == "keras_lightnets" for m, targets in graph.items()), (
        "a module imports the package root (which imports everything)"
    )


def test_benchmarks_do_not_import_the_tests():
    graph, _ = _graph("benchmarks")
    for path in _modules("benchmarks").values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "tests"], path


def test_the_check_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
