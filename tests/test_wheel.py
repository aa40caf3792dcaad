"""The sdist and wheel build, and the wheel works installed (not editable) in a new virtual environment.

No network: the wheel is built without build isolation and installed with ``--no-deps
--no-index`` into a new virtual environment whose path ends with this interpreter's
site-packages (the README's install command put the dependencies there; an editable
install of the checkout there stays inactive). That the wheel's declared
dependencies cover every module the package imports is checked on its metadata.
"""

from __future__ import annotations

import ast
import email
import os
import pathlib
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import numpy as np
import pytest

from tests.helpers import PACKAGE_MODULES

ROOT = pathlib.Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"PIL": "pillow", "sklearn": "scikit-learn", "ai_edge_litert": "ai-edge-litert", "yaml": "pyyaml"}


def _run(command: list[str], cwd: pathlib.Path, timeout: int = 600) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _third_party_imports() -> set[str]:
    """Top-level modules the package imports at module level (what a plain install must provide)."""
    found = set()
    for path in (ROOT / "keras_lightnets").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found - {"keras_lightnets", "__future__"} if name not in sys.stdlib_module_names}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source")
    files = _run(["git", "ls-files", "-z"], ROOT).split("\0")
    for name in filter(None, files):  # a clean copy of the tracked files: no build/ or egg-info of the checkout
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    _run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out)], source)
    return out


def test_wheel_and_sdist_carry_the_package_data_and_the_dependencies(dist):
    (wheel,) = dist.glob("keras_lightnets-*.whl")
    (sdist,) = dist.glob("keras_lightnets-*.tar.gz")
    from keras_lightnets import __version__

    assert f"-{__version__}-" in wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.message_from_bytes(archive.read(f"keras_lightnets-{__version__}.dist-info/METADATA"))
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "keras_lightnets").rglob("*.py")}
    assert sources <= names, sorted(sources - names)
    assert "keras_lightnets/weights/imagenet_classes.txt" in names
    required = {
        requirement.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for requirement in metadata.get_all("Requires-Dist")
        if "extra ==" not in requirement
    }
    needed = {DISTRIBUTIONS.get(name, name).lower() for name in _third_party_imports()}
    assert needed <= required, f"imported at module level but not in install_requires: {sorted(needed - required)}"
    assert {"torch", "timm", "pycocotools", "onnx"}.isdisjoint(required)  # extras, not install_requires
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"setup.cfg", "README.md", "keras_lightnets/weights/imagenet_classes.txt"} <= members


def test_the_installed_wheel_lists_predicts_and_imports_every_module(dist, tmp_path):
    import keras

    from keras_lightnets import MobileNetV3Small

    (wheel,) = dist.glob("keras_lightnets-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    # The dependencies come from this interpreter's site-packages, added after the venv's own (a .pth line is
    # a plain path: the .pth files there, such as an editable install's finder, are not run).
    inner = pathlib.Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    outer = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (inner / "outer_site_packages.pth").write_text("\n".join(outer) + "\n", encoding="utf-8")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", str(wheel)], tmp_path)

    modules = [name for name in PACKAGE_MODULES if name != "keras_lightnets.models.common"]  # the shim warns on purpose
    check = (
        "import importlib, keras_lightnets\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from keras_lightnets.weights import imagenet_class_names\n"
        "print(keras_lightnets.__file__, len(imagenet_class_names()))\n"
    )
    where, classes = _run([str(python), "-c", check], tmp_path).split()
    assert pathlib.Path(where).resolve().is_relative_to(venv.resolve()), where  # the wheel, not the checkout
    assert classes == "1000"

    listing = _run([str(venv / "bin" / "keras-lightnets"), "list"], tmp_path)
    assert "mobilenet_v3_small" in listing and "ssdlite320_mobilenet_v3_large" in listing

    model = MobileNetV3Small(input_shape=(32, 32, 3), classes=3, include_preprocessing=True)
    model.class_names = ["ant", "bee", "cat"]
    model.save(tmp_path / "tiny.keras")
    keras.utils.save_img(tmp_path / "photo.png", np.random.default_rng(0).integers(0, 255, (40, 30, 3)).astype("uint8"))
    found = _run([str(venv / "bin" / "keras-lightnets"), "predict", "tiny.keras", "photo.png", "--top", "3"], tmp_path)
    assert "photo.png" in found and all(name in found for name in ("ant", "bee", "cat")), found
