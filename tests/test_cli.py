"""The keras-lightnets command line."""

from __future__ import annotations

import pytest

from keras_lightnets.cli import main


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
    assert "Keras (tf.function)" in out and "TFLite float32" in out


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
