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


def test_list_prints_every_model(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v2_035" in out and "1,691,208" in out
