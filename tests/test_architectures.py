"""The built graphs against the papers' tables, row by row, and against the
known wrong versions listed in ../shared/reference/ARCHITECTURES.md.

The tables below are transcribed from the papers *with their input column*;
the test reads every value off the built Keras graph, not off our settings
tables, so a wrong row in a settings table fails here.
"""

from __future__ import annotations

import keras
import pytest

from keras_lightnets import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small
from keras_lightnets.layers import HardSigmoid, HardSwish

# MobileNetV3 paper (arXiv 1905.02244 v5) Table 1 / Table 2:
# input resolution, input channels | kernel, exp size, #out, SE, NL, s
V3_LARGE_PAPER = """
112 16 3 16 16 - RE 1
112 16 3 64 24 - RE 2
56 24 3 72 24 - RE 1
56 24 5 72 40 SE RE 2
28 40 5 120 40 SE RE 1
28 40 5 120 40 SE RE 1
28 40 3 240 80 - HS 2
14 80 3 200 80 - HS 1
14 80 3 184 80 - HS 1
14 80 3 184 80 - HS 1
14 80 3 480 112 SE HS 1
14 112 3 672 112 SE HS 1
14 112 5 672 160 SE HS 2
7 160 5 960 160 SE HS 1
7 160 5 960 160 SE HS 1
"""
V3_SMALL_PAPER = """
112 16 3 16 16 SE RE 2
56 16 3 72 24 - RE 2
28 24 3 88 24 - RE 1
28 24 5 96 40 SE HS 2
14 40 5 240 40 SE HS 1
14 40 5 240 40 SE HS 1
14 40 5 120 48 SE HS 1
14 48 5 144 48 SE HS 1
14 48 5 288 96 SE HS 2
7 96 5 576 96 SE HS 1
7 96 5 576 96 SE HS 1
"""


def _rows(text):
    for line in text.strip().splitlines():
        res, cin, k, exp, out, se, nl, s = line.split()
        yield int(res), int(cin), int(k), int(exp), int(out), se == "SE", nl, int(s)


def _reference_divisible(v: float) -> int:
    """The reference file's rule: max(8, int(v + 4) // 8 * 8), +8 if < 0.9 v."""
    rounded = max(8, int(v + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * v else rounded


def _names(model):
    return {l.name for l in model.layers}


def _producer(model, tensor):
    """The layer whose output is ``tensor``."""
    for layer in model.layers:
        if layer.output is tensor:
            return layer
    raise AssertionError(f"no producer for {tensor}")


@pytest.mark.parametrize(
    "build, table, last, pre_logits",
    [(MobileNetV3Large, V3_LARGE_PAPER, 960, 1280), (MobileNetV3Small, V3_SMALL_PAPER, 576, 1024)],
    ids=["large", "small"],
)
def test_mobilenet_v3_blocks_follow_paper_table(build, table, last, pre_logits):
    model = build(input_shape=(224, 224, 3))
    names = _names(model)
    stem = model.get_layer("stem")
    assert stem.filters == 16 and stem.strides == (2, 2) and stem.kernel_size == (3, 3)
    assert isinstance(model.get_layer("stem_act"), HardSwish)
    for i, (res, cin, k, exp, out, se, nl, s) in enumerate(_rows(table)):
        p = f"block_{i}"
        depthwise = model.get_layer(f"{p}_depthwise")
        assert isinstance(depthwise, keras.layers.DepthwiseConv2D), p  # not a group conv
        assert depthwise.input.shape[1:] == (res, res, exp), p
        assert depthwise.kernel_size == (k, k) and depthwise.strides == (s, s), p
        assert (f"{p}_expand" in names) == (i > 0), p  # first block: no expansion conv
        project = model.get_layer(f"{p}_project")
        assert project.input.shape[-1] == exp and project.filters == out, p
        assert project.activation.__name__ == "linear", p
        assert model.get_layer(f"{p}_project_bn").output.shape[1] == res // s, p
        act = model.get_layer(f"{p}_depthwise_act")
        assert isinstance(act, HardSwish if nl == "HS" else keras.layers.ReLU), p
        if nl == "RE":
            assert act.max_value is None, p
        assert (f"{p}_se_mul" in names) == se, p
        if se:
            # SE after depthwise + BN + activation, before the projection.
            mul = model.get_layer(f"{p}_se_mul")
            assert _producer(model, mul.input[0]) is act, p
            assert _producer(model, project.input) is mul, p
            reduce = model.get_layer(f"{p}_se_reduce")
            assert reduce.filters == _reference_divisible(exp / 4), p
            assert isinstance(model.get_layer(f"{p}_se_gate"), HardSigmoid), p
        assert (f"{p}_add" in names) == (s == 1 and cin == out), p
    # Head: 1x1 conv + BN + HS to 6x last channels; pool; 1x1 conv with bias,
    # no BN; HS; dropout 0.2; 1x1 conv to classes.
    assert model.get_layer("head_conv").filters == last
    assert isinstance(model.get_layer("head_conv_act"), HardSwish)
    hidden = model.get_layer("pre_logits")
    assert hidden.filters == pre_logits and hidden.use_bias
    assert isinstance(_producer(model, model.get_layer("pre_logits_act").input), keras.layers.Conv2D)
    assert isinstance(model.get_layer("pre_logits_act"), HardSwish)
    assert model.get_layer("dropout").rate == pytest.approx(0.2)
    assert model.get_layer("logits").filters == 1000
    batch_norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert not any(l.name.startswith(("pre_logits", "logits")) or "_se_" in l.name for l in batch_norms)


@pytest.mark.parametrize("build", [MobileNetV3Large, MobileNetV3Small])
def test_mobilenet_v3_minimalistic_has_no_se_no_hard_swish_and_3x3(build):
    model = build(input_shape=(224, 224, 3), minimalistic=True)
    assert not any("_se_" in l.name for l in model.layers)
    assert not any(isinstance(l, (HardSwish, HardSigmoid)) for l in model.layers)
    kernels = {l.kernel_size for l in model.layers if isinstance(l, keras.layers.DepthwiseConv2D)}
    assert kernels == {(3, 3)}


# MobileNetV2 paper Table 2: input resolution, input channels, t, c, n, s.
V2_PAPER = [(112, 32, 1, 16, 1, 1), (112, 16, 6, 24, 2, 2), (56, 24, 6, 32, 3, 2), (28, 32, 6, 64, 4, 2),
            (14, 64, 6, 96, 3, 1), (14, 96, 6, 160, 3, 2), (7, 160, 6, 320, 1, 1)]


def test_mobilenet_v2_blocks_follow_paper_table():
    model = MobileNetV2(input_shape=(224, 224, 3))
    assert model.get_layer("stem").filters == 32
    index = 0
    for res, cin, t, c, n, s in V2_PAPER:
        for repeat in range(n):
            p = f"block_{index}"
            stride = s if repeat == 0 else 1
            block_in = cin if repeat == 0 else c
            block_res = res if repeat == 0 else res // s
            depthwise = model.get_layer(f"{p}_depthwise")
            assert depthwise.input.shape[1:] == (block_res, block_res, t * block_in), p
            assert depthwise.strides == (stride, stride), p
            assert model.get_layer(f"{p}_project").filters == c, p
            assert (f"{p}_add" in _names(model)) == (stride == 1 and block_in == c), p
            assert model.get_layer(f"{p}_depthwise_act").max_value == 6.0, p
            index += 1
    assert index == 17
    assert model.get_layer("head_conv").filters == 1280
    assert model.get_layer("head_conv").input.shape[1:] == (7, 7, 320)
    # SSDLite tap: expansion output of the 15th conv layer (block 13), stride 16.
    assert model.get_layer("block_13_expand_act").output.shape[1:] == (14, 14, 576)


@pytest.mark.parametrize("alpha, head", [(0.5, 1280), (1.0, 1280), (1.4, 1792)])
def test_mobilenet_v2_head_scales_only_above_one(alpha, head):
    assert MobileNetV2(input_shape=(96, 96, 3), alpha=alpha).get_layer("head_conv").filters == head


# MobileNetV1 paper Table 1: (input resolution of the dw conv, dw stride, pointwise out)
V1_PAPER = [(112, 1, 64), (112, 2, 128), (56, 1, 128), (56, 2, 256), (28, 1, 256), (28, 2, 512)] + [
    (14, 1, 512)
] * 5 + [(14, 2, 1024), (7, 1, 1024)]


def test_mobilenet_v1_blocks_follow_paper_table():
    model = MobileNetV1(input_shape=(224, 224, 3))
    assert model.get_layer("stem").filters == 32 and model.get_layer("stem").strides == (2, 2)
    for i, (res, stride, out) in enumerate(V1_PAPER, start=1):
        depthwise = model.get_layer(f"block_{i}_depthwise")
        assert isinstance(depthwise, keras.layers.DepthwiseConv2D)
        assert depthwise.input.shape[1:3] == (res, res) and depthwise.strides == (stride, stride)
        assert model.get_layer(f"block_{i}_pointwise").filters == out
    assert model.get_layer("logits").input.shape[1:] == (1, 1, 1024)
