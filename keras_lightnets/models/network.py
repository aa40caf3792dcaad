"""The model class every family returns, and the last step of every walker."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import keras

from keras_lightnets.models.args import FEATURE_REDUCTIONS, ModelArgs
from keras_lightnets.models.strides import StrideTracker
from keras_lightnets.weights import WeightsFile, imagenet_class_names, load_imagenet, load_weights

__all__ = ["LightNet", "Variant", "finish_model"]


class Variant(NamedTuple):
    """A registered name of a family, declared next to the family's table (its module's ``VARIANTS``).

    ``params``, ``trainable`` (torchvision's count) and ``macs`` are at 224x224 with
    1,000 classes; ``paper_macs`` is the paper's or reference's figure ("" where none is published).
    """

    name: str
    builder: Callable[..., keras.Model]
    family: str
    fixed: dict[str, Any]
    params: int
    trainable: int
    macs: int
    paper_macs: str = ""


@keras.saving.register_keras_serializable(package="keras_lightnets")
class LightNet(keras.Model):
    """A functional ``keras.Model`` that carries its ``feature_info``.

    ``feature_info`` is a list of ``{"name", "reduction", "channels"}``: the
    last feature map at each reduction the model reaches (a classifier) or the
    model's outputs (``features_only=True``), recorded while the model was
    built. ``class_names`` (a list of str, or None) names the classifier's
    outputs once a model is trained on named classes. ``task`` is None for
    classifiers and backbones, ``"detection"`` or ``"segmentation"`` for the
    task models built on them (export and training read it). All three are
    part of the config, so they survive a ``.keras`` round trip (``safe_mode=True``).

    Args:
        inputs: the model's input tensor(s).
        outputs: the model's output tensor(s).
        name: model name.
        **kwargs: ``feature_info``, ``class_names``, ``task`` and ``keras.Model`` arguments.

    Examples:
        >>> from keras_lightnets import MobileNetV3Small
        >>> MobileNetV3Small(input_shape=(224, 224, 3)).feature_info[-1]["channels"]
        576
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, **kwargs: Any) -> None:
        feature_info = kwargs.pop("feature_info", None) or []
        class_names = kwargs.pop("class_names", None)
        task = kwargs.pop("task", None)
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.feature_info = [dict(entry) for entry in feature_info]
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.task = None if task is None else str(task)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "feature_info": [dict(entry) for entry in self.feature_info],
            "class_names": self.class_names,
            **({"task": self.task} if self.task else {}),
        }


def finish_model(inputs: Any, outputs: Any, args: ModelArgs, default_name: str, tracker: StrideTracker) -> LightNet:
    """Wrap the graph in a :class:`LightNet`, load ``args.weights``, cut the features.

    With ``features_only`` the outputs are the tapped feature maps of
    ``tracker`` (the weights file is loaded into the full ``include_top=False``
    graph first, so a no-top weights file serves both).

    Args:
        inputs: the model input.
        outputs: the head's output (or the last feature map).
        args: the checked shared arguments.
        default_name: the name used when ``args.name`` is None.
        tracker: the tracker every stride of the walk went through.

    Examples:
        >>> from keras_lightnets.models.heads import build_input, dense_classifier
        >>> tracker = StrideTracker()
        >>> inputs, x = build_input(args)
        >>> for index in range(5):
        ...     stride, rate = tracker.step(2)
        ...     x = tracker.tap(keras.layers.Conv2D(8, 3, strides=stride, padding="same", name=f"conv_{index}")(x))
        >>> net = finish_model(inputs, dense_classifier(x, args), args, "my_net", tracker)
        >>> net.name, [f["reduction"] for f in net.feature_info]
        ('my_net', [2, 4, 8, 16, 32])
    """
    name = args.name or default_name
    reached = tuple(i for i, r in enumerate(FEATURE_REDUCTIONS) if r <= args.output_stride)
    model = LightNet(inputs, outputs, name=name, feature_info=tracker.info(tracker.features(reached)))
    if isinstance(args.weights, WeightsFile):
        load_imagenet(model, args.weights)
        if args.include_top:
            model.class_names = imagenet_class_names()
    elif args.weights is not None:
        load_weights(model, args.weights)
    if not args.features_only:
        return model
    maps = tracker.features(args.out_indices)
    return LightNet(inputs, maps, name=name, feature_info=tracker.info(maps))
