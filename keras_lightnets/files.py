"""Atomic file output: write under a temporary sibling name, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any, Iterator

from keras_lightnets.validation import check_bool, check_path

__all__ = ["atomic_target", "check_output_path"]


def check_output_path(path: Any, overwrite: bool, suffix: str | None = None) -> str:
    """Check that ``path`` can be written; return it as an absolute path.

    Raises ``ValueError`` when the folder is missing or not writable or the
    suffix is wrong, ``FileExistsError`` when it exists and not ``overwrite``.

    Args:
        path: the file to write (str or os.PathLike).
        overwrite: allow replacing an existing file.
        suffix: the ending the path must have, or None.

    Example:
        >>> check_output_path("/tmp/new_file.tflite", False, ".tflite")
        '/tmp/new_file.tflite'
    """
    path = os.path.abspath(check_path("path", path, must_exist=False))
    check_bool("overwrite", overwrite)
    if suffix is not None and not path.endswith(suffix):
        raise ValueError(f"`path` must end with {suffix!r}; received {path!r}.")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ValueError(f"`path` folder does not exist: {folder!r}.")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"`path` folder is not writable: {folder!r}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"`path` exists: {path!r}; pass overwrite=True to replace it.")
    return path


@contextlib.contextmanager
def atomic_target(path: str, directory: bool = False) -> Iterator[str]:
    """Yield a temporary sibling of ``path``; move it onto ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary is removed and
    ``path`` is left as it was.

    Args:
        path: the final file or folder.
        directory: the target is a folder (replaced as a whole).

    Example:
        >>> with atomic_target("/tmp/report.txt") as temporary:
        ...     _ = open(temporary, "w").write("done")
    """
    folder, name = os.path.split(path)
    temp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    target = temp if directory else os.path.join(temp, name)
    try:
        yield target
        if directory and os.path.isdir(path):
            backup = tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=folder)
            os.replace(path, os.path.join(backup, name))
            os.replace(target, path)
            shutil.rmtree(backup)
        else:
            os.replace(target, path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
