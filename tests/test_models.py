"""Exactness of MobileNetV1/V2/V3 against keras.applications and the reference table.

keras.applications is built with weights=None, given realistic random weights
(BatchNorm statistics away from identity), and its weights are copied into ours
with ``set_weights``: equal weight order and shapes, then equal outputs.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_lightnets import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small
from keras_lightnets.testing import realistic_weights, relative_error

KA = keras.applications

# (ours, reference, kwargs, Keras total params from ../shared/reference/ARCHITECTURES.md,
#  trainable params from the same table or None where the table gives none)
VARIANTS = [
    (MobileNetV1, KA.MobileNet, dict(alpha=1.0), 4_253_864, 4_231_976),
    (MobileNetV1, KA.MobileNet, dict(alpha=0.75), 2_601_976, None),
    (MobileNetV1, KA.MobileNet, dict(alpha=0.5), 1_342_536, None),
    (MobileNetV1, KA.MobileNet, dict(alpha=0.25), 475_544, None),
    (MobileNetV2, KA.MobileNetV2, dict(alpha=1.0), 3_538_984, 3_504_872),
    (MobileNetV2, KA.MobileNetV2, dict(alpha=1.4), 6_156_712, None),
    (MobileNetV2, KA.MobileNetV2, dict(alpha=0.75), 2_663_064, None),
    (MobileNetV2, KA.MobileNetV2, dict(alpha=0.5), 1_987_224, None),
    (MobileNetV2, KA.MobileNetV2, dict(alpha=0.35), 1_691_208, None),
    (MobileNetV3Large, KA.MobileNetV3Large, dict(alpha=1.0), 5_507_432, 5_483_032),
    (MobileNetV3Small, KA.MobileNetV3Small, dict(alpha=1.0), 2_554_968, 2_542_856),
    (MobileNetV3Large, KA.MobileNetV3Large, dict(minimalistic=True), 3_948_688, 3_924_288),
    (MobileNetV3Small, KA.MobileNetV3Small, dict(minimalistic=True), 2_056_848, 2_044_736),
    (MobileNetV3Large, KA.MobileNetV3Large, dict(alpha=0.75), 4_012_616, 3_993_528),
    (MobileNetV3Small, KA.MobileNetV3Small, dict(alpha=0.75), 2_051_552, 2_041_872),
]
IDS = [f"{ours.__name__}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for ours, _, kw, _, _ in VARIANTS]
TOLERANCE = 1e-4


def _pair(ours, ref, kwargs, **common):
    reference = ref(weights=None, **kwargs, **common)
    model = ours(**kwargs, **common)
    weights = realistic_weights(reference)
    ref_shapes = [w.shape for w in weights]
    assert [tuple(w.shape) for w in model.weights] == [tuple(s) for s in ref_shapes]
    model.set_weights(weights)
    return model, reference


def _inputs(model: keras.Model, shape, rng) -> np.ndarray:
    # MobileNetV3 rescales [0, 255] inside the model; V1/V2 expect [-1, 1].
    high = 255.0 if any(isinstance(l, keras.layers.Rescaling) for l in model.layers) else 1.0
    low = 0.0 if high == 255.0 else -1.0
    return rng.uniform(low, high, (2, *shape)).astype("float32")


def _trainable_count(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("ours, ref, kwargs, total, trainable", VARIANTS, ids=IDS)
def test_parameter_counts_match_reference_table(ours, ref, kwargs, total, trainable):
    model = ours(input_shape=(224, 224, 3), **kwargs)
    assert model.count_params() == total
    if trainable is not None:
        assert _trainable_count(model) == trainable


@pytest.mark.parametrize("ours, ref, kwargs, total, trainable", VARIANTS, ids=IDS)
def test_logits_equal_keras_applications_at_224(ours, ref, kwargs, total, trainable, rng):
    model, reference = _pair(
        ours, ref, kwargs, input_shape=(224, 224, 3), classifier_activation=None
    )
    assert model.count_params() == reference.count_params()
    # Same kind of layer behind every weight, in the same order.
    ours_kinds = [type(l).__name__ for l in model.layers for _ in l.weights]
    ref_kinds = [type(l).__name__ for l in reference.layers for _ in l.weights]
    assert ours_kinds == ref_kinds
    x = _inputs(model, (224, 224, 3), rng)
    expected = reference(x, training=False).numpy()
    assert relative_error(model(x, training=False).numpy(), expected) <= TOLERANCE


# Odd, non-square and small sizes without the top, with each pooling. V1 at sizes
# that are not multiples of 32 (some strided conv then sees an odd size) is
# compared in test_mobilenet_v1_other_sizes_equal_tf_same_padding.
SIZES = [((97, 131, 3), None), ((193, 257, 3), "avg"), ((32, 32, 3), "max"), ((64, 40, 3), None)]
SIZE_CASES = [
    pytest.param(ours, ref, kwargs, shape, pooling, id=f"{case_id}-{shape[0]}x{shape[1]}-{pooling}")
    for (ours, ref, kwargs, _, _), case_id in zip(VARIANTS, IDS)
    for shape, pooling in SIZES + [((65, 41, 3), "avg")]
    if not (ours is MobileNetV1 and (shape[0] % 32 or shape[1] % 32))
]


@pytest.mark.parametrize("ours, ref, kwargs, shape, pooling", SIZE_CASES)
def test_features_equal_keras_applications_at_other_sizes(ours, ref, kwargs, shape, pooling, rng):
    model, reference = _pair(
        ours, ref, kwargs, input_shape=shape, include_top=False, pooling=pooling
    )
    x = _inputs(model, shape, rng)
    expected = reference(x, training=False).numpy()
    assert relative_error(model(x, training=False).numpy(), expected) <= TOLERANCE


def _tf_same_padding(size: int, kernel: int = 3, stride: int = 2) -> tuple[int, int]:
    """TensorFlow's documented 'SAME' padding along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("alpha", [1.0, 0.25])
@pytest.mark.parametrize("shape", [(97, 131, 3), (225, 225, 3), (33, 47, 3), (64, 40, 3), (193, 257, 3)])
def test_mobilenet_v1_other_sizes_equal_tf_same_padding(alpha, shape, rng):
    """keras.applications.MobileNet pads strided depthwise convs by a fixed
    ((0, 1), (0, 1)), which equals TF 'SAME' only where that conv's input size
    is even (for every one of them: input sizes that are multiples of 32); the
    TF-slim reference uses 'SAME' everywhere. At other sizes our V1 must equal
    the keras.applications graph with each of those pads replaced by TF's
    'SAME' padding for that layer's input size."""
    reference = KA.MobileNet(weights=None, alpha=alpha, input_shape=shape, include_top=False)

    pads = [l.name for l in reference.layers if isinstance(l, keras.layers.ZeroPadding2D)]

    def same_pad(layer):
        if isinstance(layer, keras.layers.ZeroPadding2D):
            # The k-th pad (k = 1..4) sees the input downsampled k times by
            # 'SAME' stride-2 convs: ceil(size / 2**k).
            factor = 2 ** (pads.index(layer.name) + 1)
            height, width = (-(-s // factor) for s in shape[:2])
            return keras.layers.ZeroPadding2D(
                (_tf_same_padding(height), _tf_same_padding(width)), name=layer.name
            )
        return layer.__class__.from_config(layer.get_config())

    fixed = keras.models.clone_model(reference, clone_function=same_pad)
    fixed.set_weights(realistic_weights(reference))
    model = MobileNetV1(alpha=alpha, input_shape=shape, include_top=False)
    model.set_weights(fixed.get_weights())
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    expected = fixed(x, training=False).numpy()
    assert model.output_shape[1:3] == tuple(-(-s // 32) for s in shape[:2])
    assert relative_error(model(x, training=False).numpy(), expected) <= TOLERANCE


@pytest.mark.parametrize("size", list(range(32, 72)) + [96, 97, 193, 224, 225])
@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_equals_keras_correct_pad(size, kernel, rng):
    """padding='same' at stride 2 == ZeroPadding2D(correct_pad) + 'valid', the
    pair keras.applications uses, for every size (odd and even)."""
    from keras.src.applications.imagenet_utils import correct_pad

    inputs = keras.Input((size, size + 1, 4))
    conv_same = keras.layers.DepthwiseConv2D(kernel, 2, padding="same", use_bias=False)
    conv_valid = keras.layers.DepthwiseConv2D(kernel, 2, padding="valid", use_bias=False)
    same = conv_same(inputs)
    padded = keras.layers.ZeroPadding2D(correct_pad(inputs, kernel))(inputs)
    valid = conv_valid(padded)
    conv_valid.set_weights(conv_same.get_weights())
    model = keras.Model(inputs, [same, valid])
    x = rng.normal(size=(1, size, size + 1, 4)).astype("float32")
    a, b = model(x)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "ours, ref, kwargs",
    [
        (MobileNetV1, KA.MobileNet, dict(alpha=0.5)),
        (MobileNetV2, KA.MobileNetV2, dict(alpha=0.5)),
        (MobileNetV3Small, KA.MobileNetV3Small, dict()),
        (MobileNetV3Large, KA.MobileNetV3Large, dict(minimalistic=True)),
    ],
)
def test_dynamic_spatial_dims_equal_static_reference(ours, ref, kwargs, rng):
    """A model built with None spatial dims runs any size and equals
    keras.applications built at that size."""
    model = ours(input_shape=(None, None, 3), include_top=False, **kwargs)
    for shape in [(64, 64, 3), (193, 257, 3) if ours is not MobileNetV1 else (160, 256, 3)]:
        reference = ref(weights=None, input_shape=shape, include_top=False, **kwargs)
        model.set_weights(realistic_weights(reference, seed=shape[0]))
        x = _inputs(model, shape, rng)
        expected = reference(x, training=False).numpy()
        assert relative_error(model(x, training=False).numpy(), expected) <= TOLERANCE


def test_input_tensor_is_used(rng):
    inputs = keras.Input((96, 96, 3), name="image")
    model = MobileNetV3Small(input_tensor=inputs, include_top=False, pooling="avg")
    assert model.inputs[0] is inputs
    assert model.output_shape == (None, 576)


@pytest.mark.parametrize(
    "ours, ref",
    [(MobileNetV1, KA.MobileNet), (MobileNetV2, KA.MobileNetV2), (MobileNetV3Large, KA.MobileNetV3Large)],
)
def test_default_input_shape_matches_keras_applications(ours, ref):
    for include_top in (True, False):
        assert ours(include_top=include_top).input_shape == ref(
            weights=None, include_top=include_top
        ).input_shape


def test_mobilenet_v2_without_batch_norm_has_biases_instead():
    """use_batch_norm=False: every BN removed, every conv gets a bias. Expected
    count: keras.applications' total minus 4 per BN channel plus 1 bias each."""
    reference = KA.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    bn_channels = sum(
        l.gamma.shape[0] for l in reference.layers if isinstance(l, keras.layers.BatchNormalization)
    )
    model = MobileNetV2(input_shape=(224, 224, 3), use_batch_norm=False)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and all(l.use_bias for l in convs)
    assert model.count_params() == reference.count_params() - 3 * bn_channels


def test_mobilenet_v2_relu_option_replaces_every_relu6(rng):
    model = MobileNetV2(input_shape=(64, 64, 3), activation="relu", include_top=False)
    relus = [l for l in model.layers if isinstance(l, keras.layers.ReLU)]
    assert len(relus) == 35 and all(l.max_value is None for l in relus)
    default = MobileNetV2(input_shape=(64, 64, 3), include_top=False)
    assert all(
        l.max_value == 6.0 for l in default.layers if isinstance(l, keras.layers.ReLU)
    )
    # Same weights, same output wherever no activation exceeds 6: scale inputs down.
    default.set_weights(model.get_weights())
    x = rng.uniform(-0.01, 0.01, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(model(x).numpy(), default(x).numpy(), rtol=1e-5, atol=1e-6)


def test_model_trains_with_fit(rng):
    model = MobileNetV3Small(
        input_shape=(32, 32, 3), classes=4, alpha=0.75, include_preprocessing=False, bn_momentum=0.9
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(32, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 4, 32)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
