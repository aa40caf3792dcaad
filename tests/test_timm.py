"""timm checkpoints converted by ``from_timm`` give timm's logits (MobileNetV4, timm's MobileNetV3).

The reference is timm itself (CPU, eval mode) with random weights, realistic
BatchNorm statistics and layer scales large enough that the attention blocks
matter, at each variant's training resolution and at an odd, non-square size.
"""

from __future__ import annotations

import numpy as np
import pytest

timm = pytest.importorskip("timm", reason="the timm tests need the [test] extra")
import torch  # noqa: E402

from keras_lightnets.cli import main  # noqa: E402
from keras_lightnets.convert import TIMM_MODELS, from_timm  # noqa: E402
from keras_lightnets.testing import relative_error  # noqa: E402
from tests.helpers import realistic_torch_batch_norm  # noqa: E402

TOLERANCE = 1e-4
# timm's default (training) input size per model: an independent statement of each variant's native size.
NATIVE = {name: timm.create_model(name, pretrained=False).pretrained_cfg["input_size"][1] for name in TIMM_MODELS}


def _timm_model(name: str, num_classes: int = 1000) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    realistic_torch_batch_norm(model, bias=0.2, variance=(0.5, 1.5))
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if key.endswith("layer_scale.gamma"):  # 1e-5 at init would hide the blocks they scale
                parameter.uniform_(0.05, 0.2)
    return model.eval()


def _logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()


def test_native_sizes_are_timms():
    assert {k.removeprefix("mobilenetv4_"): v for k, v in NATIVE.items() if "v4" in k} == {
        "conv_small": 224, "conv_medium": 256, "conv_large": 384, "hybrid_medium": 256, "hybrid_large": 384,
    }


@pytest.mark.parametrize("name", sorted(TIMM_MODELS))
def test_converted_logits_equal_timm(name, rng):
    reference = _timm_model(name)
    model = from_timm(name, reference.state_dict(), input_shape=(None, None, 3))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == sum(p.numel() for p in reference.parameters())
    for size in (NATIVE[name], 161):
        x = rng.normal(size=(2, size, size + 38, 3)).astype("float32")
        error = relative_error(model.predict(x, verbose=0), _logits(reference, x))
        assert error < TOLERANCE, (name, x.shape, error)


def test_without_top_gives_timm_features_and_a_path_loads(tmp_path, rng):
    reference = _timm_model("mobilenetv4_hybrid_medium", num_classes=7)
    path = tmp_path / "hybrid.pth"
    torch.save(reference.state_dict(), path)
    classifier = from_timm("mobilenetv4_hybrid_medium", str(path), input_shape=(128, 160, 3))
    assert classifier.output_shape == (None, 7)
    model = from_timm("mobilenetv4_hybrid_medium", reference.state_dict(), include_top=False, input_shape=(128, 160, 3))
    x = rng.normal(size=(1, 128, 160, 3)).astype("float32")
    with torch.no_grad():
        expected = reference.forward_features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    assert relative_error(model(x).numpy(), expected.numpy().transpose(0, 2, 3, 1)) < TOLERANCE
    assert relative_error(classifier(x).numpy(), _logits(reference, x)) < TOLERANCE


def test_another_variant_or_a_broken_checkpoint_is_refused_with_the_keys():
    state = {k: v.numpy() for k, v in _timm_model("mobilenetv4_conv_small").state_dict().items()}
    with pytest.raises(ValueError, match=r"timm's mobilenetv4_conv_medium: missing keys \[blocks.0.0.conv_exp.weight"):
        from_timm("mobilenetv4_conv_medium", state)
    broken = dict(state)
    del broken["blocks.2.0.dw_start.conv.weight"]
    broken["blocks.9.0.weight"] = np.zeros(3)
    broken["blocks.3.1.pw_exp.bn.bias"] = np.zeros(5)
    with pytest.raises(ValueError) as info:
        from_timm("mobilenetv4_conv_small", broken)
    message = str(info.value)
    assert "missing keys [blocks.2.0.dw_start.conv.weight]" in message
    assert "unexpected keys [blocks.9.0.weight]" in message
    assert "blocks.3.1.pw_exp.bn.bias: checkpoint (5,)" in message


@pytest.mark.parametrize(
    "name, kwargs, error, pattern",
    [
        ("mobilenetv4_conv_tiny", {}, ValueError, r"`name`.*'mobilenetv4_conv_tiny'"),
        ("mobilenet_v4_conv_small", {}, ValueError, r"`name`.*mobilenetv4_conv_small"),
        ("mobilenetv4_conv_small", dict(padding="same"), ValueError, r"sets \['padding'\]"),
        ("mobilenetv4_conv_small", dict(variant="conv_large"), ValueError, r"sets \['variant'\]"),
        (4, {}, TypeError, r"`name`"),
    ],
)
def test_bad_arguments(name, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        from_timm(name, {}, **kwargs)


def test_cli_convert_timm(tmp_path, rng, capsys):
    import keras

    reference = _timm_model("mobilenetv4_conv_small")
    checkpoint = tmp_path / "mnv4.pth"
    torch.save(reference.state_dict(), checkpoint)
    output = tmp_path / "mnv4.keras"
    assert main(["convert-timm", "mobilenetv4_conv_small", str(checkpoint), "--output", str(output)]) == 0
    assert "3,799,112 parameters" in capsys.readouterr().out
    model = keras.models.load_model(output, safe_mode=True)
    x = rng.normal(size=(1, 161, 199, 3)).astype("float32")
    assert relative_error(model(x).numpy(), _logits(reference, x)) < TOLERANCE
    assert main(["convert-timm", "mobilenetv3_large_100", str(checkpoint), "--output", str(tmp_path / "b.keras")]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert not (tmp_path / "b.keras").exists()
