"""The keras-lightnets command line."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_lightnets.cli import main
from keras_lightnets.litert import tflite_ops
from keras_lightnets.quantization import is_quantize_aware


def test_summary_prints_params_and_macs(capsys):
    assert main(["summary", "mobilenet_v3_small", "--input-size", "224"]) == 0
    out = capsys.readouterr().out
    assert "params (Keras):   2,554,968" in out
    assert "params trainable: 2,542,856" in out
    assert "MAdds:            56.5 M" in out


def test_unknown_model_exits_2(capsys):
    assert main(["summary", "mobilenet_v9"]) == 2
    assert "mobilenet_v9" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["16", "abc"])
def test_bad_input_size_exits_2(size, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["summary", "mobilenet_v2", "--input-size", size])
    assert stop.value.code == 2
    assert "--input-size" in capsys.readouterr().err


def test_list_prints_every_model_with_params_macs_and_checkpoints(capsys):
    from keras_lightnets.registry import list_models

    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:]] == list_models()
    row = {line.split()[0]: line for line in out[1:]}
    assert row["mobilenet_v2_035"].split()[1] == "1,691,208"  # keras.applications' count
    assert row["mobilenet_v3_small"].endswith("imagenet, torchvision:IMAGENET1K_V1")
    assert float(row["shufflenet_v2_x1_0"].split()[2]) == pytest.approx(146, rel=0.02)  # paper Table 5
    assert row["ssdlite320_mobilenet_v3_large"].split()[1:] == ["3,473,004", "583.2", "M", "detection", "(320)"]
    assert main(["list", "--pretrained"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 20


def test_export_tflite_prints_report(tmp_path, capsys):
    output = tmp_path / "small.tflite"
    assert main(["export", "mobilenet_v3_small", "--input-size", "64", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert output.exists() and "HARD_SWISH" in out and "relative" in out
    # An existing file is kept unless --overwrite.
    assert main(["export", "mobilenet_v3_small", "--input-size", "64", "--output", str(output)]) == 2
    assert "overwrite" in capsys.readouterr().err


def test_export_int8_with_npy_calibration_and_weights(tmp_path, capsys):
    import numpy as np

    from keras_lightnets import ShuffleNetV2

    weights = tmp_path / "w.weights.h5"
    ShuffleNetV2(scale=0.5, input_shape=(64, 64, 3), classes=10).save_weights(weights)
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.random.default_rng(0).uniform(-1, 1, (12, 64, 64, 3)).astype("float32"))
    output = tmp_path / "int8.tflite"
    code = main([
        "export", "shufflenet_v2_x0_5", "--input-size", "64", "--classes", "10", "--weights", str(weights),
        "--output", str(output), "--quantization", "int8", "--calibration", str(calibration),
        "--num-calibration", "12",
    ])
    assert code == 0, capsys.readouterr().err
    assert "quantization:  int8" in capsys.readouterr().out


def test_export_int8_without_calibration_exits_2(tmp_path, capsys):
    code = main(["export", "mobilenet_v2", "--output", str(tmp_path / "m.tflite"), "--quantization", "int8"])
    assert code == 2 and "--calibration" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_saved_model(tmp_path, capsys):
    output = tmp_path / "saved"
    assert main(["export", "mobilenet_v1_025", "--input-size", "64", "--format", "saved_model", "--output", str(output)]) == 0
    assert (output / "saved_model.pb").exists()


@pytest.mark.parametrize(
    "argv",
    [["export", "mobilenet_v2", "--output", "x.tflite", "--quantization", "int4"],
     ["export", "mobilenet_v2", "--output", "x.tflite", "--format", "coreml"],
     ["bench", "mobilenet_v2", "--runs", "0"]],
)
def test_bad_choices_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2


def test_bench_prints_latencies(capsys):
    assert main(["bench", "mobilenet_v3_small", "--input-size", "64", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "Keras (tensorflow)" in out and "TFLite float32" in out


def test_summary_plot(tmp_path, capsys, monkeypatch):
    import shutil

    import keras

    output = tmp_path / "diagram.png"
    if shutil.which("dot") is None:
        # Without graphviz the command must say what is missing, exit 2, write nothing.
        assert main(["summary", "mobilenet_v3_small", "--input-size", "64", "--plot", str(output)]) == 2
        assert "graphviz" in capsys.readouterr().err.lower()
        assert list(tmp_path.iterdir()) == []
        # And with a working plotter the diagram lands at the requested path.
        monkeypatch.setattr(keras.utils, "plot_model", lambda model, to_file, **kw: open(to_file, "wb").write(b"\x89PNG"))
        monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    assert main(["summary", "mobilenet_v3_small", "--input-size", "64", "--plot", str(output)]) == 0
    assert output.read_bytes()[:4] == b"\x89PNG"


def _photo_folder(root, rng):
    """Three classes of coloured 'photos': JPEG and PNG, mixed sizes and modes, one EXIF-rotated, one broken."""
    from PIL import Image

    colours = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(12):
            size = (24 + 3 * i, 30 + 2 * i)
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (*size, 3)), 0, 255).astype("uint8")
            image = Image.fromarray(pixels)
            if i % 3 == 0:
                image.save(root / name / f"{i}.png")
            elif i % 3 == 1:
                image.convert("RGBA").save(root / name / f"{i}.png")
            else:
                exif = Image.Exif()
                exif[0x0112] = 6
                image.save(root / name / f"{i}.jpg", exif=exif.tobytes())
    (root / "red" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def test_fine_tune_export_int8_and_predict_from_the_cli(source_0_4, tmp_path, capsys, rng):
    """The main job on a folder: pretrained start, honest splits, reports, int8 file, predict with names."""
    _, paths = source_0_4
    folder = _photo_folder(tmp_path / "photos", rng)
    output, logs = tmp_path / "colours_int8.tflite", tmp_path / "logs"
    argv = [
        "train", "mobilenet_v3_small", "--data", str(folder), "--input-size", "32", "--weights", paths[".keras"],
        "--epochs", "4", "--freeze-epochs", "1", "--batch-size", "8", "--export", str(output), "--log-dir", str(logs),
    ]
    with pytest.warns(UserWarning, match="Skipping 1 unreadable.*broken.jpg"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "validation accuracy" in out and "confusion matrix" in out and "precision" in out
    assert "TFLite int8 *" in out
    for name in ("splits.json", "confusion.png", "curves.png", "log.csv"):
        assert (logs / name).is_file(), name
    assert (tmp_path / "colours_int8.labels.txt").read_text().split() == ["blue", "green", "red"]
    assert main(["predict", str(output), str(folder / "green" / "0.png"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("0.png") and len(lines) == 3
    assert lines[1].split()[-1] in ("blue", "green", "red")
    assert main(["predict", str(output), str(folder / "blue"), "--top", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 * 12  # each image: its path and one class


def test_quantization_aware_epochs_from_the_cli_write_the_int8_file_and_checkpoint(tmp_path, capsys, rng):
    folder = _photo_folder(tmp_path / "photos", rng)
    output, checkpoint = tmp_path / "qat_int8.tflite", tmp_path / "run.keras"
    argv = [
        "train", "mobilenet_v1_025", "--data", str(folder), "--input-size", "32", "--epochs", "2", "--qat-epochs", "1",
        "--batch-size", "8", "--export", str(output), "--checkpoint", str(checkpoint),
    ]
    with pytest.warns(UserWarning, match="unreadable"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "then 1 quantization-aware epochs" in out and "TFLite int8 *" in out and "TFLite float32" not in out
    assert is_quantize_aware(keras.saving.load_model(checkpoint, safe_mode=True))  # what the int8 file came from
    assert tflite_ops(output)["DEQUANTIZE"] == 1 and "FlexConv2D" not in tflite_ops(output)
    assert main(["predict", str(output), str(folder / "green" / "0.png"), "--top", "1"]) == 0


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--qat-epochs", "1", "--quantization", "float16"], "--qat-epochs trains for an int8 file"),
        (["--weights", "resnet50"], "`weights` must be 'imagenet' or an existing weights file"),
        (["--weights", "imagenet", "--unfreeze-from", "block_99"], "block_99"),
        (["--val-fraction", "0.5", "--test-fraction", "0.5"], "sum below 1"),
    ],
)
def test_bad_train_arguments_exit_2_and_write_nothing(extra, pattern, tmp_path, capsys, rng):
    folder = _photo_folder(tmp_path / "photos", rng)
    output = tmp_path / "out.tflite"
    argv = ["train", "mobilenet_v3_small", "--data", str(folder), "--input-size", "32", "--export", str(output)]
    assert main(argv + extra) == 2
    assert pattern in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("value", ["nan", "1.5", "x"])
def test_bad_fraction_flags_exit_2(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "mobilenet_v3_small", "--val-fraction", value])
    assert stopped.value.code == 2 and "--val-fraction" in capsys.readouterr().err


def test_pre_split_folder_with_different_classes_exits_2(tmp_path, capsys, rng):
    for split in ("train", "val", "test"):
        _photo_folder(tmp_path / "photos" / split, rng)
    (tmp_path / "photos" / "val" / "blue").rename(tmp_path / "photos" / "val" / "cyan")
    assert main(["train", "mobilenet_v3_small", "--data", str(tmp_path / "photos"), "--input-size", "32"]) == 2
    assert "different classes" in capsys.readouterr().err


def test_calibration_folder_gives_the_pixels_of_the_evaluation_pipeline(tmp_path, rng):
    """`export --calibration DIR` reads images as training and evaluation do (EXIF, modes, resize)."""
    from keras_lightnets import create_model
    from keras_lightnets.cli import _load_calibration
    from keras_lightnets.data import image_folder

    for split in ("train", "val", "test"):
        _photo_folder(tmp_path / "photos" / split, rng)
    with pytest.warns(UserWarning, match="unreadable"):
        data = image_folder(tmp_path / "photos", input_size=40, batch_size=8)
    expected, _ = data.arrays("test")
    model = create_model("mobilenet_v3_small", input_shape=(40, 40, 3), classes=3, include_preprocessing=True)
    with pytest.warns(UserWarning, match="broken.jpg"):
        images = _load_calibration(str(tmp_path / "photos" / "test"), model)
    assert images.shape == expected.shape == (36, 40, 40, 3)
    np.testing.assert_allclose(images, expected, atol=1e-3)
    spread = _load_calibration(str(tmp_path / "photos" / "test"), model, limit=3)  # one image of each class
    np.testing.assert_allclose(spread, expected[[0, 12, 24]], atol=1e-3)


def test_imagenet_weights_without_network_exit_2_naming_url_cache_and_alternative(tmp_path, capsys, rng, monkeypatch):
    import keras

    import keras_lightnets.data as data_module

    def no_network(*args, **kwargs):  # what keras.utils.get_file raises when the host cannot be resolved
        raise Exception("URL fetch failure on https://example/: None -- [Errno -2] Name or service not known")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr(data_module, "_scan", lambda *a, **k: pytest.fail("the folder was scanned first"))
    folder = _photo_folder(tmp_path / "photos", rng)
    assert main(["train", "mobilenet_v3_small", "--data", str(folder), "--weights", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "https://storage.googleapis.com/" in err and "weights_mobilenet_v3_small_224_1.0_float.h5" in err
    assert str(tmp_path / "keras_home" / "models") in err and "--weights PATH" in err


def test_corrupt_keras_file_is_called_unreadable_not_missing(tmp_path, capsys, rng):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK but not really a zip")
    folder = _photo_folder(tmp_path / "photos", rng)
    assert main(["train", "mobilenet_v3_small", "--data", str(folder), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "is not a readable weights file" in err and "not found" not in err.lower()
