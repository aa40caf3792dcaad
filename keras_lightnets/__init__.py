"""keras_lightnets: exact lightweight ConvNets (MobileNetV1/V2/V3/V4, ShuffleNetV1/V2) for Keras 3, built to train and ship to TFLite.

Example:
    >>> from keras_lightnets import MobileNetV3Large, count_macs
    >>> model = MobileNetV3Large(input_shape=(224, 224, 3))
    >>> model.count_params()
    5507432
"""

import contextlib as _contextlib
import os as _os
import re as _re
import sys as _sys
import tempfile as _tempfile
from collections.abc import Iterator as _Iterator

# Quiet by default: TensorFlow's C++ INFO/WARNING lines (e.g. ~40 per TFLite conversion)
# stay off unless the user sets TF_CPP_MIN_LOG_LEVEL (0 shows everything) before importing.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow 2.21 logs a few lines while it is imported, before absl's logging reads that
# level ("WARNING: All log messages before absl::InitializeLog() ...", the oneDNN and CUDA
# notes; tensorflow/tensorflow#100442). They are filtered from the import's stderr by the
# same level; everything else (errors, Python warnings) is passed on.
_ABSL_LINE = _re.compile(r"^([IWE])\d{4} [\d:. ]+\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def _hidden(line: str, level: int) -> bool:
    match = _ABSL_LINE.match(line)
    severity = {"I": 0, "W": 1, "E": 2}[match[1]] if match else None
    return line.startswith(_ABSL_PREAMBLE) and level >= 1 or severity is not None and severity < level


@_contextlib.contextmanager
def _quiet_import() -> _Iterator[None]:
    level = int(_os.environ["TF_CPP_MIN_LOG_LEVEL"]) if _os.environ["TF_CPP_MIN_LOG_LEVEL"].isdigit() else 0
    if level == 0:
        yield
        return
    _sys.stderr.flush()
    saved = _os.dup(2)
    with _tempfile.TemporaryFile() as capture:
        _os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _os.dup2(saved, 2)
            _os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            _sys.stderr.write("".join(line for line in lines if not _hidden(line, level)))


with _quiet_import():
    import keras as _keras  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
if _keras.backend.backend() not in BACKENDS:
    raise ImportError(
        f"keras_lightnets runs on the Keras backends {', '.join(BACKENDS)}; KERAS_BACKEND is "
        f"{_keras.backend.backend()!r}. Set KERAS_BACKEND to one of them before importing keras "
        "(tensorflow to train and export, jax or torch to train; export works from all three)."
    )

from keras_lightnets import blocks, layers  # noqa: E402
from keras_lightnets.convert import from_timm, from_torchvision  # noqa: E402
from keras_lightnets.features import backbone, feature_info  # noqa: E402
from keras_lightnets.macs import count_macs  # noqa: E402
from keras_lightnets.models import (  # noqa: E402
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    MobileNetV4,
    ShuffleNetV1,
    ShuffleNetV2,
)
from keras_lightnets.registry import create_model, list_models  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "MobileNetV1", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "MobileNetV4", "ShuffleNetV1", "ShuffleNetV2",
    "backbone",
    "blocks",
    "count_macs",
    "create_model",
    "feature_info",
    "from_timm",
    "from_torchvision",
    "layers",
    "list_models",
]
