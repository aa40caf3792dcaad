"""Atomic file output: write under a temporary sibling name, then rename."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Iterator

from keras_lightnets.validation import check_bool, check_path

__all__ = ["atomic_target", "check_output_path", "hidden_log_line", "quiet_native_logs"]


def check_output_path(path: Any, overwrite: bool, suffix: str | None = None) -> str:
    """Check that ``path`` can be written; return it as an absolute path.

    Raises ``ValueError`` when the folder is missing or not writable or the
    suffix is wrong, ``FileExistsError`` when it exists and not ``overwrite``.

    Args:
        path: the file to write (str or os.PathLike).
        overwrite: allow replacing an existing file.
        suffix: the ending the path must have, or None.

    Examples:
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

    Examples:
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


# absl's log line prefix (severity I/W/E, date, time, thread, file:line), its pre-init preamble, and
# the TFLite converter's quantization summary, which it prints straight to stderr at every int8 conversion.
_ABSL_LINE = re.compile(r"^([IWE])\d{4} [\d:. ]+\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CONVERTER_SUMMARY = "fully_quantize: "


_NO_GPU = "failed call to cuInit"


def hidden_log_line(line: str, level: int) -> bool:
    """Whether :func:`quiet_native_logs` drops ``line`` at ``TF_CPP_MIN_LOG_LEVEL`` ``level``.

    Args:
        line: one line of native stderr output.
        level: 0 (show everything) to 3; absl lines below it are hidden, and
            from 1 the absl preamble and the converter's quantization summary;
            from 2 also CUDA's "failed call to cuInit" error, which a TensorFlow
            build with CUDA support logs on every machine without a GPU driver.

    Examples:
        >>> hidden_log_line("I0000 00:00:1796022508.96 14230 port.cc:153] oneDNN custom operations are on.", 2)
        True
    """
    match = _ABSL_LINE.match(line)
    severity = {"I": 0, "W": 1, "E": 2}[match[1]] if match else None
    chatter = line.startswith(_ABSL_PREAMBLE) or line.startswith(_CONVERTER_SUMMARY)
    no_gpu = severity == 2 and _NO_GPU in line
    return chatter and level >= 1 or no_gpu and level >= 2 or severity is not None and severity < level


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Filter the C++ log lines TensorFlow writes to file descriptor 2 while the block runs.

    Python's ``TF_CPP_MIN_LOG_LEVEL`` (set to 2 by ``import keras_lightnets``
    unless the user set it) does not reach lines printed before absl's logging
    starts (TensorFlow 2.21 at import, tensorflow/tensorflow#100442) nor the
    converter's own prints. Everything written to fd 2 inside the block is
    captured and passed on afterwards, minus :func:`hidden_log_line` lines;
    errors and Python warnings pass. Level 0 captures nothing.

    Examples:
        >>> with quiet_native_logs():
        ...     pass
    """
    raw = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    level = int(raw) if raw.isdigit() else 0
    if level == 0:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not hidden_log_line(line, level)))
