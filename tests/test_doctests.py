"""Every docstring example runs (doctest), module by module.

Examples marked ``# doctest: +SKIP`` are not run: they use a model, data, a file or a
download that the example does not make itself (123 when this test was written; the
aim is that only downloads stay skipped). ``test_skipped_examples_are_counted`` keeps
their number from growing.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
import re

import pytest

from tests.helpers import PACKAGE_MODULES

ROOT = pathlib.Path(__file__).resolve().parents[1]
@pytest.mark.parametrize("name", PACKAGE_MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name, globs=vars(module).copy()):
        result = runner.run(test, out=failures.append)
        del result
    assert not failures, "".join(failures)


def test_skipped_examples_are_counted():
    skipped = sum(len(re.findall(r"doctest: \+SKIP", path.read_text(encoding="utf-8"))) for path in (ROOT / "keras_lightnets").rglob("*.py"))
    assert skipped <= SKIPPED_AT_MOST, f"{skipped} skipped examples; make the new ones run"


SKIPPED_AT_MOST = 123
