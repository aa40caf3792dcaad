"""torchvision checkpoints converted by ``from_torchvision`` give torchvision's logits.

The reference is torchvision itself (CPU), with random weights and realistic
BatchNorm statistics, at 224x224 and at an odd, non-square 193x257 (where TF
'same' and PyTorch padding differ).
"""

from __future__ import annotations

import numpy as np
import pytest

torchvision = pytest.importorskip("torchvision", reason="the torchvision tests need the [test] extra")
import torch  # noqa: E402

from keras_lightnets import MobileNetV3Small, blocks  # noqa: E402
from keras_lightnets.cli import main  # noqa: E402
from keras_lightnets.convert import TORCHVISION_MODELS, from_torchvision  # noqa: E402
from keras_lightnets.registry import get_entry  # noqa: E402
from keras_lightnets.testing import relative_error  # noqa: E402
from tests.helpers import realistic_torch_batch_norm  # noqa: E402

TOLERANCE = 1e-4


def _torchvision_model(name: str, num_classes: int = 1000) -> torch.nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=num_classes)
    return realistic_torch_batch_norm(model)


def _logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()


@pytest.mark.parametrize("name", sorted(TORCHVISION_MODELS))
def test_converted_logits_equal_torchvision(name, rng):
    reference = _torchvision_model(name)
    model = from_torchvision(name, reference.state_dict(), input_shape=(None, None, 3))
    assert model.count_params() == sum(t.numel() for k, t in reference.state_dict().items() if "num_batches" not in k)
    for shape in ((1, 224, 224, 3), (1, 193, 257, 3)):
        x = rng.normal(size=shape).astype("float32")
        error = relative_error(model(x).numpy(), _logits(reference, x))
        assert error < TOLERANCE, (name, shape, error)


def test_same_padding_would_not_match(rng):
    """The symmetric padding is what makes the conversion exact."""
    reference = _torchvision_model("mobilenet_v3_small")
    exact = from_torchvision("mobilenet_v3_small", reference.state_dict(), input_shape=(224, 224, 3))
    tf_padded = MobileNetV3Small(
        input_shape=(224, 224, 3), include_preprocessing=False, classifier_activation=None, bn_epsilon=1e-3
    )
    tf_padded.set_weights(exact.get_weights())
    x = rng.normal(size=(1, 224, 224, 3)).astype("float32")
    expected = _logits(reference, x)
    assert relative_error(exact(x).numpy(), expected) < TOLERANCE
    assert relative_error(tf_padded(x).numpy(), expected) > 10 * TOLERANCE


def test_numpy_dict_path_and_custom_classes(tmp_path, rng):
    reference = _torchvision_model("shufflenet_v2_x0_5", num_classes=10)
    arrays = {k: v.numpy() for k, v in reference.state_dict().items()}
    path = tmp_path / "shufflenet.pth"
    torch.save(reference.state_dict(), path)
    x = rng.normal(size=(2, 96, 128, 3)).astype("float32")
    for source in (arrays, str(path)):
        model = from_torchvision("shufflenet_v2_x0_5", source, input_shape=(96, 128, 3))
        assert model.output_shape == (None, 10)
        assert relative_error(model(x).numpy(), _logits(reference, x)) < TOLERANCE


def test_without_top_gives_torchvision_features(rng):
    reference = _torchvision_model("mobilenet_v2")
    model = from_torchvision("mobilenet_v2", reference.state_dict(), include_top=False, input_shape=(160, 160, 3))
    x = rng.normal(size=(1, 160, 160, 3)).astype("float32")
    with torch.no_grad():
        expected = reference.features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    assert relative_error(model(x).numpy(), expected) < TOLERANCE


def test_bad_state_dicts_list_every_problem():
    state = {k: v.numpy() for k, v in _torchvision_model("mobilenet_v3_small").state_dict().items()}
    broken = dict(state)
    del broken["features.1.block.0.0.weight"]
    broken["features.99.weight"] = np.zeros(3)
    broken["features.2.block.1.1.bias"] = np.zeros(5)
    with pytest.raises(ValueError) as info:
        from_torchvision("mobilenet_v3_small", broken)
    message = str(info.value)
    assert "missing keys [features.1.block.0.0.weight]" in message
    assert "unexpected keys [features.99.weight]" in message
    assert "features.2.block.1.1.bias: checkpoint (5,)" in message
    with pytest.raises(ValueError, match=r"misshapen keys \[features.2.block.0.0.weight: checkpoint \(72, 16, 1, 1\)"):
        from_torchvision("mobilenet_v3_large", state)  # another architecture


@pytest.mark.parametrize(
    "name, state, kwargs, error, pattern",
    [
        ("mobilenet_v1", {}, {}, ValueError, r"`name`.*'mobilenet_v1'"),
        ("mobilenet_v2", [1, 2], {}, TypeError, r"`state_dict`.*list"),
        ("mobilenet_v2", "/no/such.pth", {}, ValueError, r"`state_dict`.*/no/such.pth"),
        ("mobilenet_v2", {}, dict(padding="same"), ValueError, r"sets \['padding'\]"),
        ("mobilenet_v2", {3: np.zeros(1)}, {}, TypeError, r"keys must be str"),
    ],
)
def test_bad_arguments(name, state, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        from_torchvision(name, state, **kwargs)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_symmetric_pool_block_equals_pytorch(kind, rng):
    """Average pools count the padding (count_include_pad=True); max pools on ReLU outputs."""
    import keras

    x = np.abs(rng.normal(size=(1, 15, 16, 4))).astype("float32")
    inputs = keras.Input((15, 16, 4))
    model = keras.Model(inputs, blocks.pool_block(inputs, kind, 3, 2, padding="symmetric", name="pool"))
    torch_pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    expected = torch_pool(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), 3, 2, 1).numpy().transpose(0, 2, 3, 1)
    assert relative_error(model(x).numpy(), expected) < 1e-6


def test_cli_convert_torchvision(tmp_path, rng, capsys):
    import keras

    reference = _torchvision_model("mobilenet_v3_small")
    checkpoint = tmp_path / "v3.pth"
    torch.save(reference.state_dict(), checkpoint)
    output = tmp_path / "v3.keras"
    assert main(["convert-torchvision", "mobilenet_v3_small", str(checkpoint), "--output", str(output)]) == 0
    assert "2,554,968 parameters" in capsys.readouterr().out
    model = keras.models.load_model(output, safe_mode=True)
    x = rng.normal(size=(1, 161, 199, 3)).astype("float32")
    assert relative_error(model(x).numpy(), _logits(reference, x)) < TOLERANCE
    assert main(["convert-torchvision", "mobilenet_v3_small", str(checkpoint), "--output", str(output)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["convert-torchvision", "mobilenet_v2", str(checkpoint), "--output", str(tmp_path / "b.keras")]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert not (tmp_path / "b.keras").exists()


@pytest.mark.parametrize("name", sorted(TORCHVISION_MODELS))
def test_registry_metadata_equals_torchvision_weights(name):
    """URL and top-1 of every torchvision checkpoint in our registry, against torchvision's own enums."""
    builder = torchvision.models.get_model_builder(name)
    enum = torchvision.models.get_model_weights(builder)
    expected = {f"torchvision:{w.name}": (w.url, w.meta["_metrics"]["ImageNet-1K"]["acc@1"]) for w in enum}
    ours = {
        p.tag: (p.files[0].origin, p.top1) for p in get_entry(name).pretrained if p.tag.startswith("torchvision:")
    }
    assert ours == expected


def test_shipped_imagenet_names_equal_torchvision_categories():
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    from keras_lightnets.weights import imagenet_class_names

    assert imagenet_class_names() == list(_IMAGENET_CATEGORIES)
