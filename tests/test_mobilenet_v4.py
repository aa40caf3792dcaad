"""MobileNetV4: parameter counts and MACs against timm and the paper, the blocks, attention, export.

Independent sources: the parameter counts timm 1.0.31 reports (``../shared/reference/ARCHITECTURES.md``),
the paper's MACs (arXiv 2404.10518, Table 11 / the appendix tables: 0.2 / 1.0 / 5.9 / 1.2 / 7.2 G at
224 / 256 / 384 / 256 / 384), and a NumPy computation of multi-query attention.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_lightnets import MobileNetV4, blocks, count_macs
from keras_lightnets.export import to_tflite
from keras_lightnets.layers import LayerScale, MultiQueryAttention
from keras_lightnets.models.mobilenet_v4 import MOBILENET_V4_SPECS
from keras_lightnets.testing import realistic_weights

# variant: (timm's trainable parameters, the paper's millions, paper GMACs, native size)
REFERENCE = {
    "conv_small": (3_774_024, 3.8, 0.2, 224),
    "conv_medium": (9_715_512, 9.2, 1.0, 256),
    "conv_large": (32_590_864, 31.0, 5.9, 384),
    "hybrid_medium": (11_074_648, 10.5, 1.2, 256),
    "hybrid_large": (37_764_624, 35.9, 7.2, 384),
}


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("variant", sorted(REFERENCE))
def test_parameters_equal_timm_and_macs_the_paper(variant):
    timm_params, paper_millions, paper_gmacs, size = REFERENCE[variant]
    model = MobileNetV4(variant, input_shape=(size, size, 3))
    assert _trainable(model) == timm_params
    macs = count_macs(model) / 1e9
    if variant == "conv_small":  # the paper's own figures, to their printed precision
        assert round(timm_params / 1e6, 1) == paper_millions and round(macs, 1) == paper_gmacs
    else:
        # The released models (timm and the TF model garden's block specs, which timm follows) are
        # 5-6% larger in parameters and 6-8% in MACs than the paper's printed M/L figures.
        assert 1.04 < timm_params / 1e6 / paper_millions < 1.07
        assert 1.0 < macs / paper_gmacs < 1.09, macs


def test_tables_use_the_paper_block_kinds_and_strides():
    for variant, spec in MOBILENET_V4_SPECS.items():
        strides = [block.strides for stage in spec.stages for block in stage]
        assert sum(s == 2 for s in strides) == 4, variant  # stem + 4 = output stride 32
        assert spec.stages[-1][-1].filters == 960
        has_attention = any(block.kind == "mqa" for stage in spec.stages for block in stage)
        assert has_attention == variant.startswith("hybrid") == (spec.layer_scale is not None)
    assert MOBILENET_V4_SPECS["hybrid_large"].activation == "gelu"


@pytest.mark.parametrize(
    "start, middle, present, absent",
    [
        (3, 5, {"start", "middle"}, set()),  # ExtraDW
        (0, 3, {"middle"}, {"start"}),  # IB
        (3, 0, {"start"}, {"middle"}),  # ConvNext-like
        (0, 0, set(), {"start", "middle"}),  # FFN
    ],
)
def test_universal_inverted_bottleneck_instances(start, middle, present, absent):
    inputs = keras.Input((16, 16, 32))
    model = keras.Model(inputs, blocks.universal_inverted_bottleneck(inputs, 32, 4.0, start, middle, name="b"))
    names = {layer.name for layer in model.layers}
    assert all(f"b_{part}" in names for part in present) and not any(f"b_{part}" in names for part in absent)
    assert "b_add" in names and "b_start_act" not in names and "b_project_act" not in names
    assert model.get_layer("b_expand").filters == 128


def test_stride_goes_to_the_middle_depthwise_else_the_start_one():
    inputs = keras.Input((16, 16, 32))
    both = keras.Model(inputs, blocks.universal_inverted_bottleneck(inputs, 48, 2.0, 3, 5, 2, name="b"))
    assert both.get_layer("b_start").strides == (1, 1) and both.get_layer("b_middle").strides == (2, 2)
    start = keras.Model(inputs, blocks.universal_inverted_bottleneck(inputs, 48, 2.0, 3, 0, 2, name="c"))
    assert start.get_layer("c_start").strides == (2, 2) and start.output_shape == (None, 8, 8, 48)
    with pytest.raises(ValueError, match="needs a depthwise conv"):
        blocks.universal_inverted_bottleneck(inputs, 48, 2.0, 0, 0, 2, name="d")
    with pytest.raises(ValueError, match="expansion"):
        blocks.universal_inverted_bottleneck(inputs, 48, float("nan"), 3, 3, name="e")
    with pytest.raises(TypeError, match="start_kernel"):
        blocks.universal_inverted_bottleneck(inputs, 48, 2.0, "3", 3, name="f")


def test_fused_inverted_bottleneck_layers():
    inputs = keras.Input((32, 32, 32))
    model = keras.Model(inputs, blocks.fused_inverted_bottleneck(inputs, 32, 4.0, 3, 1, name="f"))
    assert model.get_layer("f_expand").kernel_size == (3, 3) and model.get_layer("f_expand").filters == 128
    assert "f_add" in {layer.name for layer in model.layers}
    assert not any(getattr(layer, "use_bias", False) for layer in model.layers)


def _numpy_attention(query, key, value, heads):
    """Multi-query attention written out per head with einsum (head-major channels)."""
    batch, height, width, _ = query.shape
    key_dim = key.shape[-1]
    q = query.reshape(batch, height * width, heads, key_dim)
    k = key.reshape(batch, -1, key_dim)
    v = value.reshape(batch, -1, value.shape[-1])
    logits = np.einsum("blhd,bpd->bhlp", q, k) / np.sqrt(key_dim)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = np.einsum("bhlp,bpd->blhd", weights, v)
    return out.reshape(batch, height, width, -1)


@pytest.mark.backends
def test_multi_query_attention_equals_numpy(rng):
    query = rng.normal(size=(2, 5, 7, 4 * 8)).astype("float32")
    key = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    value = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    got = keras.ops.convert_to_numpy(MultiQueryAttention(4)([query, key, value]))
    np.testing.assert_allclose(got, _numpy_attention(query, key, value, 4), rtol=1e-5, atol=1e-5)


@pytest.mark.backends
def test_mobile_mqa_block_equals_numpy(rng):
    inputs = keras.Input((8, 8, 32))
    model = keras.Model(inputs, blocks.mobile_mqa(inputs, 32, 2, 16, kv_strides=2, layer_scale=0.5, name="m"))
    realistic_weights(model)
    x = rng.normal(size=(1, 8, 8, 32)).astype("float32")
    layer = model.get_layer

    def bn(name, t):
        gamma, beta, mean, var = layer(name).get_weights()
        return (t - mean) / np.sqrt(var + layer(name).epsilon) * gamma + beta

    def pointwise(name, t):
        return t @ layer(name).get_weights()[0][0, 0]

    def down(name, t):  # 3x3 depthwise, stride 2, TF "same" (pad 0 before, 1 after on 8x8)
        kernel = layer(name).get_weights()[0][..., 0]
        padded = np.pad(t, ((0, 0), (0, 1), (0, 1), (0, 0)))
        return sum(padded[:, i:i + 8:2, j:j + 8:2] * kernel[i, j] for i in range(3) for j in range(3))

    normed = bn("m_norm", x)
    kv = {part: pointwise(f"m_{part}", bn(f"m_{part}_down_bn", down(f"m_{part}_down", normed))) for part in ("key", "value")}
    attended = _numpy_attention(pointwise("m_query", normed), kv["key"], kv["value"], 2)
    expected = x + pointwise("m_output", attended) * layer("m_scale").get_weights()[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, rtol=1e-4, atol=1e-4)
    assert isinstance(layer("m_scale"), LayerScale)
    assert not any(getattr(l, "use_bias", False) for l in model.layers)


def test_hybrid_int8_tflite_is_builtin_and_attention_exact(tmp_path, rng):
    keras.utils.set_random_seed(0)
    model = MobileNetV4("hybrid_medium", input_shape=(128, 128, 3), classes=10)
    realistic_weights(model)
    x = rng.uniform(0, 255, (4, 128, 128, 3)).astype("float32")
    f32 = to_tflite(model, tmp_path / "f32.tflite", check_data=x)
    assert f32.comparison.relative_error <= 1e-5
    assert "BATCH_MATMUL" in f32.ops and "SOFTMAX" in f32.ops
    int8 = to_tflite(model, tmp_path / "int8.tflite", quantization="int8", representative_data=x, check_data=x)
    assert np.isfinite(int8.comparison.relative_error)  # the int8 file runs (accuracy: test_export's digits test)
    for ops in (f32.ops, int8.ops):
        assert not any(name.startswith("Flex") or name in ("CUSTOM", "DELEGATE") for name in ops), ops


def test_conv_small_learns_the_digits_and_its_int8_file_keeps_the_accuracy(tmp_path):
    """The short schedule of ``benchmarks.digits`` (plain 32x32 digits, dropout 0.2, batch 64, 6 epochs).

    The 90 % claim (8 epochs; measured 0.967 in session 8) lives in benchmarks/results/digits.md, with the spread
    over 5 seeds that sizes this run's bound.
    """
    from benchmarks.digits import FAMILIES, SHORT
    from keras_lightnets.data import digits
    from keras_lightnets.litert import run_tflite
    from keras_lightnets.train import fit
    from tests.helpers import short_run_bound

    data = digits(input_size=32, batch_size=FAMILIES["mobilenet_v4_conv_small"][1], augment=False)
    result = fit("mobilenet_v4_conv_small", data, epochs=SHORT["mobilenet_v4_conv_small"][1], verbose=0, dropout=0.2)
    assert result.test_accuracy >= short_run_bound("mobilenet_v4_conv_small"), result.test_accuracy
    x_test, y_test = data.arrays("test")
    int8 = to_tflite(result.model, tmp_path / "int8.tflite", quantization="int8", representative_data=data.calibration)
    accuracy = float(np.mean(run_tflite(int8.path, x_test).argmax(-1) == y_test))
    assert accuracy >= result.test_accuracy - 0.02, (accuracy, result.test_accuracy)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(variant="conv_tiny"), ValueError, r"`variant`.*'conv_tiny'"),
        (dict(variant=1), ValueError, r"`variant`"),
        (dict(weights="imagenet"), ValueError, r"from_timm"),
        (dict(dropout=float("nan")), ValueError, r"`dropout`"),
        (dict(output_stride=4), ValueError, r"`output_stride`"),
    ],
)
def test_bad_arguments_are_refused_before_building(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        MobileNetV4(**kwargs)


def test_mobile_mqa_bad_arguments():
    inputs = keras.Input((8, 8, 32))
    with pytest.raises(ValueError, match="kv_strides"):
        blocks.mobile_mqa(inputs, 32, 2, 16, kv_strides=3, name="m")
    with pytest.raises(TypeError, match="num_heads"):
        blocks.mobile_mqa(inputs, 32, 2.0, 16, name="m")
    with pytest.raises(ValueError, match="layer_scale"):
        blocks.mobile_mqa(inputs, 32, 2, 16, layer_scale=float("inf"), name="m")
