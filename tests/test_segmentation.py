"""Segmenters: exact to torchvision (parameters, outputs at two sizes), registry metadata, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

torchvision = pytest.importorskip("torchvision", reason="the torchvision tests need the [test] extra")
import keras  # noqa: E402
import torch  # noqa: E402

from keras_lightnets import count_macs, create_model, from_torchvision, list_models  # noqa: E402
from keras_lightnets.registry import get_entry  # noqa: E402
from keras_lightnets.segmentation import LRASPP, DeepLabV3, default_rates, segmentation_backbone  # noqa: E402
from keras_lightnets.testing import relative_error  # noqa: E402
from tests.helpers import realistic_torch_batch_norm  # noqa: E402

TORCHVISION_NAMES = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large")


def _reference(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    builder = getattr(torchvision.models.segmentation, name)
    kwargs = {"aux_loss": True} if name.startswith("deeplabv3") else {}
    return realistic_torch_batch_norm(builder(weights=None, weights_backbone=None, num_classes=21, **kwargs))


@pytest.fixture(scope="module", params=TORCHVISION_NAMES)
def pair(request):
    reference = _reference(request.param)
    return request.param, reference, from_torchvision(request.param, reference.state_dict())


def test_parameter_counts_equal_torchvision(pair):
    name, reference, model = pair
    theirs = sum(p.numel() for n, p in reference.named_parameters() if not n.startswith("aux_classifier."))
    ours = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert ours == theirs == get_entry(name).trainable
    # torchvision's published counts: 3,221,538 (LR-ASPP); 11,029,328 with DeepLabV3's auxiliary head.
    assert sum(p.numel() for p in reference.parameters()) == {TORCHVISION_NAMES[0]: 3_221_538, TORCHVISION_NAMES[1]: 11_029_328}[name]
    assert model.task == "segmentation" and model.output_shape == (None, 512, 512, 21)


@pytest.mark.parametrize("size", [(224, 224), (197, 261)])
def test_outputs_equal_torchvision(pair, size, rng):
    name, reference, model = pair
    if size != (512, 512):
        model = from_torchvision(name, reference.state_dict(), input_shape=(*size, 3))
    x = rng.normal(0, 1, (2, *size, 3)).astype("float32")
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))["out"].numpy().transpose(0, 2, 3, 1)
    ours = keras.ops.convert_to_numpy(model(x, training=False))
    assert ours.shape == theirs.shape == (2, *size, 21)
    assert relative_error(ours, theirs) <= 1e-4


def test_dilation_rule_matters_for_parity(rng):
    """Without torchvision's rule (the strided block of the dilated stage dilated too) parity would fail (> 1e-4)."""
    reference = _reference("lraspp_mobilenet_v3_large")
    exact = from_torchvision("lraspp_mobilenet_v3_large", reference.state_dict(), input_shape=(96, 96, 3))
    other = create_model(
        "lraspp_mobilenet_v3_large", num_classes=21, input_shape=(96, 96, 3), dilate_strided=False,
        include_preprocessing=False,
    )
    other.set_weights(exact.get_weights())
    x = rng.normal(0, 1, (1, 96, 96, 3)).astype("float32")
    high = [keras.Model(m.input, m.get_layer("block_12_project_bn").output) for m in (other, exact)]
    assert relative_error(*(keras.ops.convert_to_numpy(m(x)) for m in high)) > 1e-2


@pytest.mark.parametrize("name", sorted(list_models(task="segmentation")))
def test_every_segmenter_matches_its_recorded_metrics(name):
    entry = get_entry(name)
    model = create_model(name)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (model.count_params(), trainable, count_macs(model)) == (entry.params, entry.trainable, entry.macs)
    assert model.output_shape == (None, 512, 512, 21) and model.task == "segmentation"
    low = [info for info in model.feature_info if info["size"] == [64, 64]]
    assert len(low) == (1 if name.startswith("lraspp") else 0)  # the stride-8 map of a 512 input


def test_low_map_is_the_first_block_at_stride_8():
    """torchvision's C2: MobileNetV3-Large features[4] (block_3, 40 ch), MobileNetV3-Small features[2] (block_1, 24 ch)."""
    for name, layer, channels in (("mobilenet_v3_large", "block_3_project_bn", 40), ("mobilenet_v3_small", "block_1_project_bn", 24)):
        _, low, high = segmentation_backbone(name, (256, 256, 3))
        assert low._keras_history.operation.name == layer and tuple(low.shape) == (None, 32, 32, channels)
        assert tuple(high.shape[1:3]) == (16, 16)


def test_default_rates_follow_the_paper():
    assert default_rates(16) == (6, 12, 18) and default_rates(8) == (12, 24, 36)
    assert get_entry("deeplabv3_mobilenet_v3_large").defaults["atrous_rates"] == (12, 24, 36)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: LRASPP("mobilenet_v3_small", 1, (64, 64, 3)), ValueError, "num_classes"),
        (lambda: LRASPP("mobilenet_v3_small", "2", (64, 64, 3)), TypeError, "num_classes"),
        (lambda: LRASPP("mobilenet_v3_small", 2, (64, 64, 3), output_stride=4), ValueError, "output_stride"),
        (lambda: LRASPP("mobilenet_v3_small", 2, (None, None, 3)), TypeError, "input_shape"),
        (lambda: LRASPP("mobilenet_v3_small", 2, (16, 64, 3)), ValueError, "input_shape"),
        (lambda: DeepLabV3("ssdlite_mobilenet_v2", 2, (64, 64, 3)), ValueError, "backbone_name"),
        (lambda: DeepLabV3("mobilenet_v3_small", 2, (64, 64, 3), atrous_rates=(0, 6)), ValueError, "rates"),
    ],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_keras_round_trip_and_output_stride_8(tmp_path, rng):
    model = create_model("deeplabv3_mobilenet_v3_small", num_classes=3, input_shape=(64, 80, 3), output_stride=8)
    path = tmp_path / "seg.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    x = rng.uniform(0, 255, (1, 64, 80, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-5)
    assert restored.task == "segmentation" and restored.feature_info[0]["size"] == [8, 10]
