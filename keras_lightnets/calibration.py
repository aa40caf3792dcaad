"""Calibration input for full-integer quantization: arrays, datasets or generators, checked up front."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

import keras
import numpy as np

__all__ = ["calibration_samples", "with_progress"]


def calibration_samples(
    data: Any, shape: tuple[int, ...], limit: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Normalize calibration data to a generator of ``[x]`` with x of ``shape``.

    The first sample is checked now, before any conversion.

    Args:
        data: an array (N, H, W, C); a ``tf.data.Dataset`` or any iterable of
            arrays or of ``(images, labels)`` tuples, batched or single; or a
            function returning one.
        shape: the model's batch-1 input shape ``(1, H, W, C)``.
        limit: the most samples to yield (>= 1).

    Examples:
        >>> generator = calibration_samples(np.zeros((4, 32, 32, 3)), (1, 32, 32, 3), 2)
        >>> len(list(generator()))
        2
    """
    if data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8' (an array of "
            "images, a tf.data.Dataset or a generator)."
        )
    if isinstance(data, (str, bytes)) or not (
        isinstance(data, np.ndarray) or hasattr(data, "__iter__") or callable(data)
    ):
        raise TypeError(
            "`representative_data` must be an array, a tf.data.Dataset or an iterable; "
            f"received {type(data).__name__}."
        )
    if hasattr(data, "__next__"):
        # A one-shot iterator (e.g. a generator object) cannot be read twice: keep
        # the items calibration can use, so checking the first one loses nothing.
        data = list(itertools.islice(data, limit))

    def samples() -> Iterator[np.ndarray]:
        source = data() if callable(data) and not hasattr(data, "__iter__") else data
        if isinstance(source, np.ndarray):
            source = [source]
        for item in source:
            if isinstance(item, (tuple, list)):
                item = item[0]
            array = np.asarray(item)
            if array.ndim == len(shape) - 1:
                array = array[None]
            for row in array:
                yield row[None]

    first = next(iter(samples()), None)
    if first is None:
        raise ValueError("`representative_data` is empty.")
    if tuple(first.shape) != shape or not np.issubdtype(first.dtype, np.number):
        raise ValueError(
            f"`representative_data` samples must be numeric arrays of shape {shape[1:]} "
            f"(or batches of them); received {first.dtype} {first.shape[1:]}."
        )

    def generator() -> Iterator[list[np.ndarray]]:
        for sample in itertools.islice(samples(), limit):
            yield [sample.astype(np.float32)]

    return generator


def with_progress(
    calibration: Callable[[], Iterator[list[np.ndarray]]], total: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """``calibration`` that advances a progress bar of ``total`` images.

    Args:
        calibration: a generator function from :func:`calibration_samples`.
        total: the number of images it yields (the bar's length).

    Examples:
        >>> import contextlib, io
        >>> generator = with_progress(calibration_samples(images, (1, 32, 32, 3), 8), 8)
        >>> with contextlib.redirect_stdout(io.StringIO()) as bar:  # the bar is drawn on stdout
        ...     samples = list(generator())
        >>> len(samples), "8/8" in bar.getvalue()
        (8, True)
    """

    def generator() -> Iterator[list[np.ndarray]]:
        bar = keras.utils.Progbar(total, unit_name="calibration image")
        for index, sample in enumerate(calibration(), start=1):
            bar.update(index)
            yield sample

    return generator
