"""Graph rewrites for export: an equal Keras model whose ops suit the target runtime better."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import keras
import numpy as np
from keras import layers

from keras_lightnets.layers import AveragePooling2D, ChannelShuffle, ChannelSplit, HardSigmoid, HardSwish
from keras_lightnets.validation import check_bool, check_int

__all__ = ["absorb_channel_shuffle", "densify_group_convolutions", "with_spellings"]


def _spelled(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """The layers of ``model`` (nested models included) that have a ``decomposed`` spelling."""
    for layer in model.layers:
        if isinstance(layer, (HardSwish, AveragePooling2D)):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from _spelled(layer)


def _spelling(layer: keras.layers.Layer, hard_swish: bool, average_pooling: bool) -> bool:
    """The ``decomposed`` value wanted for one layer from :func:`_spelled`."""
    return hard_swish if isinstance(layer, HardSwish) else average_pooling


def with_spellings(model: keras.Model, *, hard_swish: bool, average_pooling: bool) -> keras.Model:
    """``model``, or an equal copy (same weights) whose layers use the chosen export spellings.

    Args:
        model: a Keras model (nested models are rewritten too).
        hard_swish: ``decomposed`` for every :class:`~keras_lightnets.layers.HardSwish`
            (MUL/ADD ops instead of one ``HARD_SWISH``).
        average_pooling: ``decomposed`` for every
            :class:`~keras_lightnets.layers.AveragePooling2D` (a depthwise
            convolution and a ``MUL`` instead of ``AVERAGE_POOL_2D``).

    Examples:
        >>> int8_graph = with_spellings(model, hard_swish=True, average_pooling=True)
        >>> bool(np.allclose(int8_graph.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5))
        True
    """
    check_bool("hard_swish", hard_swish)
    check_bool("average_pooling", average_pooling)
    if all(layer.decomposed == _spelling(layer, hard_swish, average_pooling) for layer in _spelled(model)):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, (HardSwish, AveragePooling2D)):
            decomposed = _spelling(layer, hard_swish, average_pooling)
            return layer.__class__.from_config({**layer.get_config(), "decomposed": decomposed})
        if isinstance(layer, keras.Model):
            return with_spellings(layer, hard_swish=hard_swish, average_pooling=average_pooling)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def densify_group_convolutions(model: keras.Model, max_group_channels: int = 8) -> keras.Model:
    """``model``, or an equal copy whose narrow grouped convolutions are dense (block-diagonal weights).

    A grouped ``Conv2D`` with at most ``max_group_channels`` input channels per
    group becomes a plain ``Conv2D`` whose kernel holds each group's weights on
    the diagonal and zeros elsewhere: the same function, ``groups`` times the
    multiply-adds of that layer, but one dense matrix product instead of many
    tiny ones (slow in LiteRT's XNNPACK, in int8 most of all), and a layer
    that takes its input channels in any order, so that
    :func:`absorb_channel_shuffle` can absorb the shuffle before it
    (ShuffleNetV1 at small widths).

    Args:
        model: a functional Keras model (nested models are left as they are).
        max_group_channels: the widest group (>= 1 input channels) to densify.

    Examples:
        >>> from keras_lightnets import ShuffleNetV1
        >>> model = ShuffleNetV1(groups=8, scale=0.25, input_shape=(224, 224, 3))
        >>> dense = densify_group_convolutions(model)
        >>> dense.get_layer("stage2_unit2_gconv2").groups
        1
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    max_group_channels = check_int("max_group_channels", max_group_channels, low=1)

    def narrow(layer: keras.layers.Layer) -> bool:
        return type(layer) is layers.Conv2D and layer.groups > 1 and layer.kernel.shape[2] <= max_group_channels

    if not any(narrow(layer) for layer in model.layers):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        return layer.__class__.from_config({**config, "groups": 1} if narrow(layer) else config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        weights = layer.get_weights()
        if narrow(layer):
            kernel, groups = weights[0], layer.groups
            inputs, outputs = kernel.shape[2], kernel.shape[3] // groups
            dense = np.zeros((*kernel.shape[:2], inputs * groups, kernel.shape[3]), kernel.dtype)
            for group in range(groups):
                columns = slice(group * outputs, (group + 1) * outputs)
                dense[:, :, group * inputs:(group + 1) * inputs, columns] = kernel[:, :, :, columns]
            weights = [dense, *weights[1:]]
        if weights:
            copy.get_layer(layer.name).set_weights(weights)
    return copy


# --- channel shuffles absorbed into weights ------------------------------------

# Layers that act on each channel alone, without weights, and the most inputs
# LiteRT's XNNPACK delegate concatenates (it leaves CONCATENATION of 6+ to the
# slow reference kernel). Exact classes only: a subclass may do anything.
_PARAMETER_FREE = (
    layers.Activation, layers.ReLU, layers.Identity, layers.Dropout, layers.ZeroPadding2D,
    layers.MaxPooling2D, layers.AveragePooling2D, AveragePooling2D,
    layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D, HardSwish, HardSigmoid,
)
_MAX_CONCAT_INPUTS = 5


class _Unabsorbable(Exception):
    """A value in a carried order reaches a layer that needs the true order."""

    def __init__(self, shuffles: frozenset[str]) -> None:
        super().__init__(sorted(shuffles))
        self.shuffles = shuffles


@dataclasses.dataclass(eq=False)
class _Piece:
    tensor: Any  # None while planning
    origin: Any  # key of the layer output whose channels these are
    channels: np.ndarray  # the origin's channel held in each channel of `tensor`
    reorderable: bool  # the origin is a kernel's output, which can be emitted in any channel order


@dataclasses.dataclass(eq=False)
class _Value:
    """A tensor of the original model held as pieces: stored channel ``i`` is true channel ``true[i]``."""

    pieces: list[_Piece]
    true: np.ndarray
    shuffles: frozenset[str] = frozenset()  # the absorbed ChannelShuffle layers its order depends on
    parts: bool = False  # the pieces are one kernel's output groups: per-channel layers act on each

    def spans(self) -> Iterator[tuple[_Piece, np.ndarray]]:
        start = 0
        for piece in self.pieces:
            yield piece, self.true[start:start + len(piece.channels)]
            start += len(piece.channels)


def _route_groups(route: dict[int, list], width: int) -> list[np.ndarray]:
    """A kernel's output channels (0..width-1) grouped by their recorded route, in route order."""
    order = sorted(range(width), key=lambda c: tuple(route.get(c, ())))
    groups: list[list[int]] = []
    for channel in order:
        if groups and tuple(route.get(groups[-1][-1], ())) == tuple(route.get(channel, ())):
            groups[-1].append(channel)
        else:
            groups.append([channel])
    return [np.array(group) for group in groups]


class _Rewrite:
    """One walk over a functional model's graph, in the order Keras runs it.

    The planning walk (``routes=None``) builds nothing: it follows channel
    orders and records, for each kernel output (``Conv2D``, ``Dense``), which
    side of each later ``ChannelSplit`` every channel takes. The building walk
    emits each such kernel as one kernel per route (its columns grouped), so
    that splits, shuffles and concatenations only pass pieces along, and joins
    pieces (one ``Concatenate``) where a layer needs one tensor: a kernel takes
    them in any order (its rows permuted), a per-channel layer takes them with
    its weights permuted; any other layer needs the true order.
    """

    def __init__(self, model: keras.Model, kept: frozenset[str], routes: dict[Any, dict[int, list]] | None) -> None:
        self.model = model
        self.kept = kept
        self.building = routes is not None
        self.routes: dict[Any, dict[int, list]] = {} if routes is None else routes
        self.widths: dict[Any, int] = {}  # kernel output -> channels
        self.first_shuffle: dict[Any, str] = {}  # kernel output -> the first shuffle its channels meet
        self.joined: dict[int, _Value] = {}
        self.names = {layer.name for layer in model.layers}
        self.count = 0

    def _name(self, base: str) -> str:
        index = 0
        while f"{base}_{index}" in self.names:
            index += 1
        self.names.add(f"{base}_{index}")
        return f"{base}_{index}"

    def _fresh(self, tensor: Any, channels: int) -> _Value:
        self.count += 1
        return _Value([_Piece(tensor, ("fresh", self.count), np.arange(channels), False)], np.arange(channels))

    def _clone(
        self, layer: keras.layers.Layer, inputs: Any, weights: list[np.ndarray], name: str, **config: Any
    ) -> Any:
        if not self.building:
            return None
        copy = layer.__class__.from_config({**layer.get_config(), **config, "name": name})
        outputs = copy(inputs)
        copy.set_weights(weights)
        return outputs

    def _concat(self, tensors: list[Any], name: str) -> Any:
        while len(tensors) > _MAX_CONCAT_INPUTS:  # join the run with the fewest channels first
            run = len(tensors) - _MAX_CONCAT_INPUTS + 1
            sizes = [sum(t.shape[-1] for t in tensors[i:i + run]) for i in range(len(tensors) - run + 1)]
            start = int(np.argmin(sizes))
            joined = layers.Concatenate(name=self._name(f"{name}_concat"))(tensors[start:start + run])
            tensors = [*tensors[:start], joined, *tensors[start + run:]]
        return layers.Concatenate(name=self._name(f"{name}_concat"))(tensors)

    def _single(self, value: _Value, name: str) -> _Value:
        """``value`` as one stored tensor (one join per value, shared by its consumers)."""
        if len(value.pieces) == 1:
            return value
        if id(value) not in self.joined:
            tensor = self._concat([p.tensor for p in value.pieces], name) if self.building else None
            joined = self._fresh(tensor, len(value.true))
            self.joined[id(value)] = _Value(joined.pieces, value.true, value.shuffles)
        return self.joined[id(value)]

    def _true_order(self, value: _Value, name: str) -> Any:
        if not np.array_equal(value.true, np.arange(len(value.true))):
            raise _Unabsorbable(value.shuffles)
        return self._single(value, name).pieces[0].tensor

    def _per_channel(self, layer: keras.layers.Layer, value: _Value) -> _Value:
        if not value.parts:
            value = self._single(value, layer.name)
        pieces = []
        for index, (piece, true) in enumerate(value.spans()):
            weights = layer.get_weights()
            if isinstance(layer, layers.DepthwiseConv2D):
                weights = [weights[0][:, :, true], *(w[true] for w in weights[1:])]
            elif isinstance(layer, layers.BatchNormalization):
                weights = [w[true] for w in weights]
            name = f"{layer.name}_part{index}" if value.parts else layer.name
            pieces.append(dataclasses.replace(piece, tensor=self._clone(layer, piece.tensor, weights, name)))
        return _Value(pieces, value.true, value.shuffles, value.parts)

    def _kernel(self, layer: keras.layers.Layer, value: _Value, key: Any) -> _Value:
        value = self._single(value, layer.name)
        kernel, *bias = layer.get_weights()
        kernel = np.take(kernel, value.true, axis=-2)  # input rows in the stored order
        width = self.widths[key] = kernel.shape[-1]
        groups = _route_groups(self.routes.get(key, {}), width)
        parts = len(groups) > 1
        size = "units" if isinstance(layer, layers.Dense) else "filters"
        pieces = []
        for index, columns in enumerate(groups):
            weights = [np.take(kernel, columns, axis=-1), *(b[columns] for b in bias)]
            name = f"{layer.name}_part{index}" if parts else layer.name
            tensor = self._clone(layer, value.pieces[0].tensor, weights, name, **{size: len(columns)})
            pieces.append(_Piece(tensor, key, columns, True))
        return _Value(pieces, np.concatenate(groups), frozenset(), parts)

    def _split(self, layer: keras.layers.Layer, node: Any, value: _Value) -> list[_Value]:
        half = len(value.true) // 2
        sides: list[tuple[list[_Piece], list[np.ndarray]]] = [([], []), ([], [])]
        for piece, true in value.spans():
            right = true >= half
            if not self.building and piece.reorderable:
                for channel, side in zip(piece.channels, right):
                    self.routes.setdefault(piece.origin, {}).setdefault(channel, []).append((id(node), bool(side)))
            if right.all() or not right.any():
                parts = [(piece, true)]
            elif not self.building and piece.reorderable:  # the building walk emits these apart
                parts = [(dataclasses.replace(piece, channels=piece.channels[m]), true[m]) for m in (~right, right)]
            elif np.count_nonzero(np.diff(right)) == 1:  # two runs: one cut, as the split it replaces
                cut = int(np.argmax(right != right[0]))
                sizes = [cut, len(right) - cut]
                tensors = [None, None]
                if self.building:
                    split = ChannelSplit(None if cut * 2 == len(right) else sizes, name=self._name(f"{layer.name}_cut"))
                    tensors = split(piece.tensor)
                parts = [
                    (_Piece(tensor, piece.origin, piece.channels[a:b], piece.reorderable), true[a:b])
                    for tensor, (a, b) in zip(tensors, ((0, cut), (cut, len(right))))
                ]
            else:
                raise _Unabsorbable(value.shuffles)
            for part, part_true in parts:
                side = int(part_true[0] >= half)
                sides[side][0].append(part)
                sides[side][1].append(part_true - side * half)
        return [_Value(pieces, np.concatenate(trues), value.shuffles) for pieces, trues in sides]

    def _shuffle(self, layer: ChannelShuffle, value: _Value) -> _Value:
        group = len(value.true) // layer.groups  # true channel i * group + c moves to c * groups + i
        for piece in value.pieces:
            self.first_shuffle.setdefault(piece.origin, layer.name)
        true = (value.true % group) * layer.groups + value.true // group
        return _Value(value.pieces, true, value.shuffles | {layer.name})

    def _concatenate(self, values: list[_Value]) -> _Value:
        offsets = np.cumsum([0, *(len(v.true) for v in values[:-1])])
        return _Value(
            [p for v in values for p in v.pieces],
            np.concatenate([v.true + offset for v, offset in zip(values, offsets)]),
            frozenset().union(*(v.shuffles for v in values)),
        )

    def _carried(self, layer: keras.layers.Layer, node: Any, args: tuple) -> list[_Value] | None:
        """The outputs of ``layer`` on carried pieces, or None when it needs the true order."""
        kind, value = type(layer), args[0]
        if kind is layers.Concatenate and layer.axis in (-1, 3) and all(isinstance(v, _Value) for v in value):
            return [self._concatenate(value)]
        if not isinstance(value, _Value):
            return None
        rank = len(node.input_tensors[0].shape)
        if kind in _PARAMETER_FREE or (kind is layers.BatchNormalization and layer.axis in (-1, rank - 1)) or (
            kind is layers.DepthwiseConv2D and layer.depth_multiplier == 1
        ):
            return [self._per_channel(layer, value)]
        if (kind is layers.Conv2D and layer.groups == 1) or kind is layers.Dense:
            return [self._kernel(layer, value, id(node.outputs[0]))]
        if kind is ChannelSplit and layer.sizes is None:
            return self._split(layer, node, value)
        if kind is ChannelShuffle and layer.name not in self.kept:
            return [self._shuffle(layer, value)]
        return None

    def _node(self, node: Any, values: dict[int, Any]) -> list[_Value]:
        layer = node.operation
        args, kwargs = node.arguments.fill_in(values)
        if len(args) == 1 and all(v is None for v in kwargs.values()):  # e.g. mask=None
            outputs = self._carried(layer, node, args)
            if outputs is not None:
                return outputs
        args, kwargs = keras.tree.map_structure(
            lambda v: self._true_order(v, layer.name) if isinstance(v, _Value) else v, (args, kwargs)
        )
        tensors: list[Any] = [None] * len(node.outputs)
        if self.building:
            copy = layer.__class__.from_config(layer.get_config())
            tensors = keras.tree.flatten(copy(*args, **kwargs))
            copy.set_weights(layer.get_weights())
        return [self._fresh(t, o.shape[-1]) for t, o in zip(tensors, node.outputs)]

    def run(self) -> keras.Model | None:
        model = self.model
        values: dict[int, Any] = {}
        inputs = []
        for tensor in model.inputs:
            name = tensor._keras_history[0].name
            new = keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name) if self.building else None
            inputs.append(new)
            values[id(tensor)] = self._fresh(new, tensor.shape[-1])
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if not node.is_input:
                    for original, value in zip(node.outputs, self._node(node, values)):
                        values[id(original)] = value
        outputs = [self._true_order(values[id(t)], "output") for t in model.outputs]
        if not self.building:
            return None
        return keras.Model(
            keras.tree.pack_sequence_as(model._inputs_struct, inputs),
            keras.tree.pack_sequence_as(model._outputs_struct, outputs),
            name=model.name,
        )

    def crowded(self, max_parts: int) -> set[str]:
        """After planning: the first shuffle met by each kernel output that would need > ``max_parts`` kernels."""
        return {
            self.first_shuffle[key]
            for key, width in self.widths.items()
            if key in self.first_shuffle and len(_route_groups(self.routes.get(key, {}), width)) > max_parts
        }


def absorb_channel_shuffle(model: keras.Model, max_parts: int | None = 4) -> keras.Model:
    """An equal copy of ``model`` whose channel shuffles move no data, where the graph allows.

    A channel shuffle is a fixed permutation. This transform carries it along
    instead of performing it: each ``ChannelSplit`` then just routes pieces,
    a convolution whose channels are later split apart is emitted as one
    convolution per route (its kernel's columns grouped), and the next layer
    that needs one tensor (a convolution, batch norm, pooling, the
    classifier) gets a concatenation of the pieces with its weights permuted
    to match. The exported file has no ``TRANSPOSE``/``RESHAPE`` for the
    absorbed shuffles; the outputs are the same function (float32 rounding
    aside, about 1e-7 relative). A shuffle whose order reaches a layer that
    needs the true channel order (a grouped convolution as in ShuffleNetV1,
    an add, a model output such as ``features_only`` maps) is kept, with the
    shuffles before it in its chain; a model without absorbable shuffles is
    returned unchanged.

    In ShuffleNetV2 a carried shuffle splits the convolutions before it into
    as many parts as their channels have routes, up to 8 in a long stage;
    many small convolutions cost more than the shuffle they save on a
    small model, so by default a shuffle is absorbed only where no
    convolution needs more than ``max_parts`` parts (the earlier shuffles of
    a stage are kept). The documentation's Benchmarks page gives the measured trade-off.

    Args:
        model: a functional Keras model (channels last).
        max_parts: the most convolutions (>= 1) one convolution may become;
            None: no limit (every absorbable shuffle is absorbed).

    Returns:
        A new model with the same weights rearranged, or ``model`` itself.

    Examples:
        >>> from keras_lightnets import ShuffleNetV2
        >>> model = ShuffleNetV2(scale=0.5, input_shape=(224, 224, 3))
        >>> fast = absorb_channel_shuffle(model, max_parts=None)
        >>> any(isinstance(layer, ChannelShuffle) for layer in fast.layers)
        False
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise TypeError(f"`model` must be a functional keras.Model; received {type(model).__name__}.")
    if max_parts is not None:
        max_parts = check_int("max_parts", max_parts, low=1)
    shuffles = {layer.name for layer in model.layers if isinstance(layer, ChannelShuffle)}
    kept: frozenset[str] = frozenset()
    while kept != shuffles:
        planner = _Rewrite(model, kept, None)
        try:
            planner.run()
        except _Unabsorbable as error:
            if not error.shuffles - kept:
                return model
            kept |= error.shuffles
            continue
        crowded = planner.crowded(max_parts) if max_parts is not None else set()
        if crowded:
            kept |= crowded
            continue
        try:
            return _Rewrite(model, kept, planner.routes).run()
        except _Unabsorbable:
            return model
    return model
