"""Stride bookkeeping while a model is built: output stride by dilation, and feature taps."""

from __future__ import annotations

from typing import Any

from keras_lightnets.models.args import FEATURE_REDUCTIONS

__all__ = ["StrideTracker"]


class StrideTracker:
    """Every stride of a model goes through :meth:`step`; feature maps through :meth:`tap`.

    ``step(stride)`` returns the ``(stride, dilation_rate)`` the layer should
    use: once the reduction reaches ``output_stride`` strides become 1 and
    later layers are dilated instead (the TF-slim / DeepLab rule: the layer
    whose stride is removed keeps the current rate, the ones after it get
    ``rate * stride``; with ``dilate_strided=True`` the layer whose stride is
    removed is dilated too, as torchvision's dilated MobileNetV3). ``tap(x)``
    records ``x`` as a feature map at the current reduction, with its layer
    name and channels (as timm's ``feature_info``, recorded while building,
    never measured afterwards).

    Args:
        output_stride: 8, 16 or 32.
        dilate_strided: dilate the layer whose stride is removed (torchvision's MobileNetV3 rule).

    Examples:
        >>> tracker = StrideTracker(16)
        >>> [tracker.step(s) for s in (2, 2, 2, 2, 1, 2, 1)]
        [(2, 1), (2, 1), (2, 1), (2, 1), (1, 1), (1, 1), (1, 2)]
    """

    def __init__(self, output_stride: int = 32, dilate_strided: bool = False) -> None:
        self.output_stride = output_stride
        self.dilate_strided = dilate_strided
        self.reduction = 1
        self.rate = 1
        self.taps: list[tuple[int, Any]] = []

    def step(self, stride: int) -> tuple[int, int]:
        """The ``(stride, dilation_rate)`` for a layer of nominal ``stride``.

        Args:
            stride: the layer's nominal stride (1 or 2).

        Examples:
            >>> tracker = StrideTracker(8)
            >>> tracker.step(2), tracker.step(2), tracker.step(2), tracker.step(2)
            ((2, 1), (2, 1), (2, 1), (1, 1))
        """
        if self.reduction >= self.output_stride:
            rate = self.rate
            self.rate *= stride
            return 1, self.rate if self.dilate_strided else rate
        self.reduction *= stride
        return stride, 1

    def tap(self, x: Any) -> Any:
        """Record ``x`` as the latest feature map at the current reduction; return it.

        Args:
            x: a feature map.

        Examples:
            >>> import keras
            >>> tracker = StrideTracker()
            >>> x = tracker.tap(keras.Input((32, 32, 3)))
            >>> tracker.taps[0][0]
            1
        """
        self.taps.append((self.reduction, x))
        return x

    def features(self, out_indices: tuple[int, ...]) -> list[Any]:
        """The last tapped map at each reduction named by ``out_indices``.

        Args:
            out_indices: sorted indices into the reductions (2, 4, 8, 16, 32).

        Examples:
            >>> import keras
            >>> tracker = StrideTracker()
            >>> stride, rate = tracker.step(2)
            >>> x = tracker.tap(keras.layers.Conv2D(8, 3, strides=stride, padding="same", name="stem")(keras.Input((32, 32, 3))))
            >>> [tuple(f.shape) for f in tracker.features((0,))]
            [(None, 16, 16, 8)]
        """
        last: dict[int, Any] = {}
        for reduction, x in self.taps:
            last[reduction] = x
        wanted = [FEATURE_REDUCTIONS[i] for i in out_indices]
        missing = [r for r in wanted if r not in last]
        if missing:
            raise ValueError(
                f"`out_indices` {out_indices} asks for reductions {missing} that this model "
                f"does not reach (it reaches {sorted(last)}); lower `out_indices` or raise "
                "`output_stride`."
            )
        return [last[r] for r in wanted]

    def info(self, tensors: list[Any]) -> list[dict[str, Any]]:
        """``{"name", "reduction", "channels", "first"}`` of each tapped tensor in ``tensors``.

        ``first`` names the first map tapped at the same reduction: the output of
        the block that reached it (torchvision's LR-ASPP takes its low-level
        features there).

        Args:
            tensors: tensors passed to :meth:`tap`.

        Examples:
            >>> import keras
            >>> tracker = StrideTracker()
            >>> stride, rate = tracker.step(2)
            >>> x = tracker.tap(keras.layers.Conv2D(8, 3, strides=stride, padding="same", name="stem")(keras.Input((32, 32, 3))))
            >>> tracker.info([x])
            [{'name': 'stem', 'reduction': 2, 'channels': 8, 'first': 'stem'}]
        """
        reductions = {id(x): reduction for reduction, x in self.taps}
        first: dict[int, Any] = {}
        for reduction, x in self.taps:
            first.setdefault(reduction, x)
        return [
            {
                "name": x._keras_history.operation.name,
                "reduction": reductions[id(x)],
                "channels": int(x.shape[-1]),
                "first": first[reductions[id(x)]]._keras_history.operation.name,
            }
            for x in tensors
        ]
