"""Strict argument checks shared by every public entry point.

Each check raises before any layer is built, names the argument, repeats the
value it was given and says what is allowed. Booleans are never accepted as
numbers, strings never as numbers or flags, and NaN/inf are refused.
"""

from __future__ import annotations

import importlib.util
import math
import numbers
import os
import sys
import warnings
from typing import Any, Callable, Collection

__all__ = [
    "argparse_fraction",
    "argparse_int",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_path",
    "require_extra",
    "warn_caller",
]


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a real ``bool``; raise ``TypeError`` otherwise.

    Args:
        name: the argument's name, for the message.
        value: the value to check.

    Examples:
        >>> check_bool("include_top", True)
        True
    """
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be a bool (True or False); received {value!r} "
            f"of type {type(value).__name__}."
        )
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float after checking type, finiteness and range.

    Ints are accepted (``alpha=1``), bools and strings are not.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        low: the lower bound, or None.
        high: the upper bound, or None.
        low_inclusive: whether ``low`` itself is allowed.
        high_inclusive: whether ``high`` itself is allowed.

    Examples:
        >>> check_float("alpha", 0.75, low=0.0, low_inclusive=False)
        0.75
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number; received {value!r} "
            f"of type {type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; received {value!r}.")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        interval = (
            f"{left}{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}{right}"
        )
        raise ValueError(f"`{name}` must be in {interval}; received {value!r}.")
    return value


def check_int(
    name: str, value: Any, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an int after checking type and the closed range.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        low: the lower bound, or None.
        high: the upper bound, or None.

    Examples:
        >>> check_int("classes", 10, low=1)
        10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer; received {value!r} "
            f"of type {type(value).__name__}."
        )
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"`{name}` must be an integer in [{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}]; received {value!r}."
        )
    return value


def check_choice(name: str, value: Any, allowed: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed`` (compared with ``==``).

    Strings are matched exactly: no case folding, no guessing.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        allowed: the accepted values.

    Examples:
        >>> check_choice("pooling", "avg", (None, "avg", "max"))
        'avg'
    """
    for option in allowed:
        if type(value) is type(option) and value == option:
            return value
    raise ValueError(
        f"`{name}` must be one of {list(allowed)!r}; received {value!r}."
    )


def check_path(name: str, value: Any, *, must_exist: bool = True) -> str:
    """Return ``value`` as a ``str`` path; optionally require that it exists.

    Args:
        name: the argument's name, for the message.
        value: the path (str or os.PathLike).
        must_exist: refuse a path that does not exist.

    Examples:
        >>> check_path("weights", "/", must_exist=True)
        '/'
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"`{name}` must be a path (str or os.PathLike); received {value!r} "
            f"of type {type(value).__name__}."
        )
    path = os.fspath(value)
    if must_exist and not os.path.exists(path):
        raise ValueError(f"`{name}` path does not exist: {path!r}.")
    return path


def argparse_int(minimum: int, flag: str) -> Callable[[str], int]:
    """An argparse ``type=`` that parses an int >= ``minimum`` for ``flag``.

    A bad value makes argparse exit with code 2 and a message naming the flag.

    Args:
        minimum: the smallest accepted value.
        flag: the flag named in the error message.

    Examples:
        >>> argparse_int(1, "--runs")("3")
        3
    """
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer; received {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {minimum}; received {value}")
        return value

    return parse


def warn_caller(message: str) -> None:
    """``warnings.warn(message)`` attributed to the first caller outside this package.

    Args:
        message: the warning text.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_caller("Weights for input shape (224, 224) will be loaded.")
        >>> str(caught[0].message)
        'Weights for input shape (224, 224) will be loaded.'
    """
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def argparse_fraction(flag: str) -> Callable[[str], float]:
    """An argparse ``type=`` that parses a finite number in (0, 1) for ``flag``.

    Args:
        flag: the flag named in the error message.

    Examples:
        >>> argparse_fraction("--val-fraction")("0.1")
        0.1
    """
    import argparse

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number in (0, 1); received {text!r}") from None
        if not 0.0 < value < 1.0:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"{flag} must be a number in (0, 1); received {text!r}")
        return value

    return parse


#: The optional parts: extra name -> the modules it installs (import name: distribution name).
EXTRAS: dict[str, dict[str, str]] = {
    "detection": {"pycocotools": "pycocotools", "yaml": "pyyaml"},
    "onnx": {"tf2onnx": "tf2onnx", "onnx": "onnx"},
    "torch": {"torch": "torch"},
    "plot": {"matplotlib": "matplotlib", "pydot": "pydot"},
}


def require_extra(extra: str, purpose: str, modules: Collection[str] | None = None) -> None:
    """Raise an ``ImportError`` naming the ``extra`` to install if a module it provides is missing.

    Checked before any heavy work (nothing is imported here, only looked up).

    Args:
        extra: a key of :data:`EXTRAS` (``"detection"``, ``"onnx"``, ``"torch"``, ``"plot"``).
        purpose: what needs it, the start of the message (``"COCO evaluation"``).
        modules: the extra's modules this purpose needs (default: all of them).

    Examples:
        >>> require_extra("plot", "a plot", modules=())  # nothing needed: no error
        >>> require_extra("detection", "YOLO folders", modules=["no_such_module_for_the_example"])
        Traceback (most recent call last):
        ...
        ImportError: YOLO folders needs no_such_module_for_the_example: pip install 'keras-lightnets[detection]'.
    """
    check_choice("extra", extra, tuple(EXTRAS))
    names = EXTRAS[extra] if modules is None else {m: EXTRAS[extra].get(m, m) for m in modules}
    missing = [distribution for module, distribution in names.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ImportError(f"{purpose} needs {', '.join(missing)}: pip install 'keras-lightnets[{extra}]'.")
