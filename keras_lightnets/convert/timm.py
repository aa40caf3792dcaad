"""timm checkpoints -> exact Keras models (MobileNetV4 and timm's MobileNetV3)."""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.convert.mapping import convert_checkpoint
from keras_lightnets.models.mobilenet_v4 import MOBILENET_V4_SPECS
from keras_lightnets.validation import check_choice

__all__ = ["TIMM_MODELS", "from_timm"]

#: timm name -> the registry name it converts to.
TIMM_MODELS: dict[str, str] = {
    **{f"mobilenetv4_{variant}": f"mobilenet_v4_{variant}" for variant in MOBILENET_V4_SPECS},
    "mobilenetv3_large_100": "mobilenet_v3_large",
    "mobilenetv3_small_100": "mobilenet_v3_small",
}
# timm's MobileNetV3 stages (blocks.{stage}.{index}): bneck rows per stage, then the 1x1 head conv.
_V3_STAGES = {"mobilenet_v3_large": (1, 2, 3, 4, 2, 3), "mobilenet_v3_small": (1, 2, 3, 2, 3)}
# Our layer suffix -> timm module, per block kind.
_V4_PARTS = {
    "conv": {"": "conv", "_bn": "bn1"},
    "fused": {"_expand": "conv_exp", "_expand_bn": "bn1", "_project": "conv_pwl", "_project_bn": "bn2"},
    "uib": {
        "_start": "dw_start.conv", "_start_bn": "dw_start.bn", "_expand": "pw_exp.conv", "_expand_bn": "pw_exp.bn",
        "_middle": "dw_mid.conv", "_middle_bn": "dw_mid.bn", "_project": "pw_proj.conv", "_project_bn": "pw_proj.bn",
        "_scale": "layer_scale",
    },
    "mqa": {
        "_norm": "norm", "_query": "attn.query.proj", "_key_down": "attn.key.down_conv",
        "_key_down_bn": "attn.key.norm", "_key": "attn.key.proj", "_value_down": "attn.value.down_conv",
        "_value_down_bn": "attn.value.norm", "_value": "attn.value.proj", "_output": "attn.output.proj",
        "_scale": "layer_scale",
    },
}
_V3_IR_PARTS = {
    "_expand": "conv_pw", "_expand_bn": "bn1", "_depthwise": "conv_dw", "_depthwise_bn": "bn2",
    "_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand", "_project": "conv_pwl", "_project_bn": "bn3",
}
_V3_DS_PARTS = {  # timm's DepthwiseSeparableConv (a first block without expansion)
    "_depthwise": "conv_dw", "_depthwise_bn": "bn1", "_se_reduce": "se.conv_reduce",
    "_se_expand": "se.conv_expand", "_project": "conv_pw", "_project_bn": "bn2",
}
_HEAD = {"stem": "conv_stem", "stem_bn": "bn1", "pre_logits": "conv_head", "logits": "classifier"}


def _v4_prefixes(variant: str) -> dict[str, str]:
    prefixes = {**_HEAD, "pre_logits_bn": "norm_head"}
    for s, stage in enumerate(MOBILENET_V4_SPECS[variant].stages):
        for i, block in enumerate(stage):
            for suffix, module in _V4_PARTS[block.kind].items():
                prefixes[f"stage{s}_block{i}{suffix}"] = f"blocks.{s}.{i}.{module}"
    return prefixes


def _v3_prefixes(name: str, names: set[str]) -> dict[str, str]:
    prefixes = dict(_HEAD)
    index = 0
    stages = _V3_STAGES[name]
    for s, length in enumerate(stages):
        for i in range(length):
            block = f"block_{index}"
            parts = _V3_IR_PARTS if f"{block}_expand" in names else _V3_DS_PARTS
            prefixes.update({f"{block}{suffix}": f"blocks.{s}.{i}.{module}" for suffix, module in parts.items()})
            index += 1
    prefixes["head_conv"] = f"blocks.{len(stages)}.0.conv"
    prefixes["head_conv_bn"] = f"blocks.{len(stages)}.0.bn1"
    return prefixes


def from_timm(name: str, state_dict: Any, **model_kwargs: Any) -> keras.Model:
    """Build the Keras twin of timm's ``name`` and load a timm ``state_dict`` into it, exactly.

    The model is built as timm builds it: ``padding="symmetric"`` (timm's
    default padding for these models is PyTorch's ``((s - 1) + (k - 1)) // 2``
    on both sides, which is ``k // 2`` for their odd kernels), BatchNorm
    epsilon 1e-5 and momentum 0.9 (PyTorch's defaults), no in-model rescaling
    (feed images normalized as the checkpoint's ``pretrained_cfg`` says, e.g.
    ``timm.data.resolve_data_config``), logits out unless you pass another
    ``classifier_activation``; ``classes`` defaults to the checkpoint's. Every
    tensor is mapped by name; every key must be used once and every shape must
    match, else one ``ValueError`` lists the missing, unexpected and misshapen
    keys and nothing is returned (a checkpoint of another variant fails here).

    Args:
        name: a timm model name in ``TIMM_MODELS``: ``mobilenetv4_conv_small``,
            ``mobilenetv4_conv_medium``, ``mobilenetv4_conv_large``,
            ``mobilenetv4_hybrid_medium``, ``mobilenetv4_hybrid_large``,
            ``mobilenetv3_large_100``, ``mobilenetv3_small_100`` (any of their
            pretrained tags: the tag changes the weights, not the keys).
        state_dict: ``timm_model.state_dict()``, a dict of NumPy arrays with
            the same keys, or the path of a ``.pth`` file (needs torch).
        **model_kwargs: other model arguments (``input_shape``,
            ``include_top``, ``pooling``, ``classes``, ``dropout`` (V4) / ``dropout_rate`` (V3),
            ``classifier_activation``, ``name``). ``padding``, ``bn_epsilon``,
            ``bn_momentum``, ``weights``, ``features_only``, ``alpha`` and
            ``variant`` are set by the conversion and refused.

    Examples:
        >>> import timm
        >>> reference = timm.create_model("mobilenetv4_conv_small")  # random; pretrained=True downloads ImageNet's
        >>> from_timm("mobilenetv4_conv_small", reference.state_dict()).output_shape
        (None, 1000)
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str (a timm model name); received {name!r} of type {type(name).__name__}.")
    check_choice("name", name, tuple(TIMM_MODELS))
    target = TIMM_MODELS[name]

    def prefixes(model: keras.Model) -> dict[str, str]:
        if target.startswith("mobilenet_v4_"):
            return _v4_prefixes(target.removeprefix("mobilenet_v4_"))
        return _v3_prefixes(target, {layer.name for layer in model.layers})

    return convert_checkpoint(
        target, state_dict, model_kwargs, prefixes=prefixes, bn_epsilon=1e-5, bn_momentum=0.9,
        classifier_key="classifier.weight", defaults={}, source=f"timm's {name}",
    )
