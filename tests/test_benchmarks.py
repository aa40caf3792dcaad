"""The benchmark runner: a quick smoke run end to end, its report, and its argument checks.

No assertion on speed here (timings belong to the benchmark's own report);
the checks are that every figure is produced, finite and consistent with the
raw numbers, and that bad arguments exit with code 2 before any work.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks.report import ratios
from benchmarks.run import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "results"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return output


def test_quick_run_writes_every_file(quick_run):
    assert sorted(os.listdir(quick_run)) == ["ratios.png", "results.json", "results.md", "scaling.png"]
    for name in ("ratios.png", "scaling.png"):
        assert (quick_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_run_figures_are_complete_and_finite(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    assert results["settings"]["quick"] is True
    figures = results["pairs"]["mobilenet_v3_small"]
    for key in ("keras_b1_ms", "keras_batch_ms", "train_step_ms", "build_s", "load_s"):
        assert len(figures[key]) == 2 and all(v > 0 and math.isfinite(v) for v in figures[key]), key
    assert set(figures["tflite"]) == {"float32", "int8"}
    assert figures["tflite"]["float32"]["ours"]["ops"].get("FlexConv2D") is None
    table = ratios(figures, results["matmul_gflops"])
    # A second computation of two ratios from the raw figures.
    assert table["keras_b1"] == pytest.approx(figures["keras_b1_ms"][0] / figures["keras_b1_ms"][1])
    flops = 2 * figures["macs"] / (figures["tflite"]["float32"]["ours"]["ms"] / 1e3)
    assert table["peak_fraction"] == pytest.approx(flops / 1e9 / results["matmul_gflops"])
    scaling = results["scaling"]
    assert len(scaling["size"]["tflite_float32_ms"]) == len(scaling["size"]["sizes"])
    assert math.isfinite(scaling["size"]["exponent"])
    entry = results["shufflenets"]["shufflenet_v2_x0_5"]
    share = entry["shuffle_share"]
    assert math.isfinite(share) and share < 1.0  # a share of time; 3 quick runs beside another worker are noisy
    assert entry["absorbed_over_kept"] == pytest.approx(entry["float32_ms"][0] / entry["float32_kept_ms"])
    assert "TRANSPOSE" in entry["float32_ops"] or "CONV_2D" in entry["float32_ops"]
    assert results["machine"]["cpu"] and isinstance(results["machine"]["flags"], list)


def test_quick_run_report_has_the_tables(quick_run):
    text = (quick_run / "results.md").read_text()
    for heading in ("| model | Keras b1", "## Targets", "## Scaling", "## ShuffleNets"):
        assert heading in text
    assert "QUICK smoke run" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "resnet50"], "invalid choice: 'resnet50'"),
        (["--batch", "0"], "--batch must be >= 1; received 0"),
        (["--size", "16"], "--size must be >= 32; received 16"),
        (["--runs", "0"], "--runs must be >= 1; received 0"),
        (["--runs", "many"], "--runs must be an integer; received 'many'"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_output_parent_exits_2(tmp_path, capsys):
    assert main(["--output", str(tmp_path / "no" / "such")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_streaming_benchmark_smoke_run(tmp_path):
    """The memory / throughput benchmark runs end to end on tiny folders and writes its report."""
    from benchmarks.streaming import main as streaming

    output = tmp_path / "results"
    argv = ["--small", "12", "--large", "24", "--input-size", "32", "--batch", "4", "--output", str(output)]
    assert streaming(argv) == 0
    figures = json.loads((output / "streaming.json").read_text())
    assert set(figures["runs"]) == {"12", "24"} and all(r["peak_rss_mb"] > 100 for r in figures["runs"].values())
    assert math.isfinite(figures["memory_ratio"]) and figures["throughput"]["pipeline_images_per_s"] > 0
    assert "peak RSS" in (output / "streaming.md").read_text()


def test_backends_benchmark_smoke_run(tmp_path):
    """The per-backend benchmark measures all three backends in child processes and writes ratios to TensorFlow."""
    from benchmarks.backends import main as backends

    output = tmp_path / "results"
    argv = ["--model", "mobilenet_v1_025", "--size", "32", "--batch", "4", "--runs", "3", "--output", str(output)]
    assert backends(argv) == 0
    figures = json.loads((output / "backends.json").read_text())
    assert set(figures["backends"]) == {"tensorflow", "jax", "torch"}
    assert figures["backends"]["tensorflow"]["inference_ratio"] == 1.0 == figures["backends"]["tensorflow"]["train_ratio"]
    for timings in figures["backends"].values():
        assert all(math.isfinite(v) and v > 0 for v in timings.values())
    assert "| jax |" in (output / "backends.md").read_text() and figures["machine"]["cpu"]


def test_mobilenet_v4_benchmark_smoke_run(tmp_path):
    """MobileNetV4 against MobileNetV3-Large at equal MACs: the peer size really has equal MACs."""
    from benchmarks.mobilenet_v4 import main as mobilenet_v4
    from keras_lightnets import count_macs, create_model

    output = tmp_path / "results"
    argv = ["--variants", "conv_small", "--size", "96", "--runs", "3", "--output", str(output)]
    assert mobilenet_v4(argv) == 0
    (row,) = json.loads((output / "mobilenet_v4.json").read_text())["rows"]
    v4 = count_macs(create_model("mobilenet_v4_conv_small", input_shape=(96, 96, 3)))
    peer = count_macs(create_model("mobilenet_v3_large", input_shape=(row["peer_size"],) * 2 + (3,)))
    assert (row["macs"], row["peer_macs"]) == (v4, peer) and abs(peer - v4) / v4 < 0.1
    assert row["float32_flex_ops"] == [] == row["int8_flex_ops"]
    assert all(row[k] > 0 for k in ("float32_ms", "int8_ms", "peer_float32_ms", "peer_int8_ms"))
    assert "`mobilenet_v4_conv_small`" in (output / "mobilenet_v4.md").read_text()


def test_int8_benchmark_smoke_run(tmp_path):
    """The all-models int8 table: the ratio is the rounds' int8 / float32 and the delegation is reported."""
    from benchmarks.int8 import main as int8

    output = tmp_path / "results"
    argv = ["--models", "shufflenet_v1_g3_x0_25", "mobilenet_v1_025", "--size", "64", "--runs", "3", "--trials", "2",
            "--output", str(output)]
    assert int8(argv) == 0
    rows = json.loads((output / "int8.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["shufflenet_v1_g3_x0_25", "mobilenet_v1_025"]
    for row in rows:
        assert len(row["ratios"]) == 2 and row["int8_over_float32"] == pytest.approx(sorted(row["ratios"])[0] / 2 + sorted(row["ratios"])[1] / 2)
        assert row["float32_partitions"] == 1 and row["int8_undelegated"] == {"SOFTMAX": 1}  # pooling runs in XNNPACK
    text = (output / "int8.md").read_text()
    assert "`shufflenet_v1_g3_x0_25`" in text and "partitions" in text
    argv = ["--update", "--models", "mobilenet_v1_025", "--size", "64", "--runs", "3", "--trials", "1", "--output", str(output)]
    assert int8(argv) == 0  # re-measures one row, keeps the other
    updated = json.loads((output / "int8.json").read_text())["rows"]
    assert [r["model"] for r in updated] == [r["model"] for r in rows] and updated[0] == rows[0]
    assert len(updated[1]["ratios"]) == 1  # the re-measured row (one round this time)


def test_fine_tune_results_rebuild_from_a_run_log(tmp_path):
    """benchmarks.fine_tune writes its table from measured rows, also from an interrupted run's log."""
    from benchmarks.fine_tune import main as fine_tune

    row = {"train_per_class": 10, "source": "same domain", "schedule": "defaults", "keras_test": 0.47, "int8_test": 0.43,
           "val": 0.54, "epochs": 23, "steps": 304, "seconds": 136.6}
    log = tmp_path / "run.log"
    log.write_text("noise\n" + repr(row) + "\n" + repr({**row, "train_per_class": 30, "keras_test": 0.71}) + "\n")
    assert fine_tune(["--from-log", str(log), "--output", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "fine_tune.md").read_text()
    assert "| 10 | same domain | defaults | 23 | 304 | 0.470 | 0.430 | 0.540 | 137 |" in table
    assert "| 30 | same domain | defaults | 23 | 304 | 0.710 |" in table and "2 rows" in table


def test_segmentation_benchmark_smoke_run(tmp_path):
    """Segmenter files against torchvision's LR-ASPP: every figure measured, the delegation and resize ops reported."""
    from benchmarks.segmentation import main as segmentation

    output = tmp_path / "results"
    argv = ["--models", "lraspp_mobilenet_v3_small", "--size", "64", "--runs", "3", "--trials", "1", "--output", str(output)]
    assert segmentation(argv) == 0
    figures = json.loads((output / "segmentation.json").read_text())
    (row,) = figures["rows"]
    assert row["float32_flex_ops"] == [] == row["int8_flex_ops"] and row["float32_ops"]["RESIZE_BILINEAR"] == 2
    assert all(row[k] > 0 and math.isfinite(row[k]) for k in ("float32_ms", "int8_ms")) and figures["torchvision_ms"] > 0
    assert "outside XNNPACK" in (output / "segmentation.md").read_text()


def test_qat_table_is_written_from_the_measured_rows(tmp_path):
    """benchmarks.qat: each row's QAT - PTQ difference is computed from its figures, in points."""
    from benchmarks.qat import write
    from benchmarks.streaming import machine

    row = {"model": "mobilenet_v3_small", "task": "digits", "metric": "accuracy", "epochs": 4, "qat_epochs": 2,
           "float": 0.9, "ptq": 0.85, "ptq_int8_io": 0.84, "qat_keras": 0.89, "qat": 0.885, "qat_int8_io": 0.88,
           "seconds": 90.0}
    detector = {**row, "model": "ssdlite_mobilenet_v3_small", "metric": "AP50", "ptq": 0.778, "qat": 0.8}
    del detector["ptq_int8_io"], detector["qat_int8_io"]
    write(str(tmp_path), {"machine": machine(), "settings": {}, "rows": [row, detector]})
    table = (tmp_path / "qat.md").read_text()
    assert "| `mobilenet_v3_small` | digits | accuracy | 4 | 2 | 0.900 | 0.850 | 0.890 | 0.885 | +3.5 | 0.840 | 0.880 | 1.5 |" in table
    assert "| 0.778 | 0.890 | 0.800 | +2.2 | — | — |" in table
    assert json.loads((tmp_path / "qat.json").read_text())["rows"][1]["qat"] == 0.8
    assert "Over seeds" not in table
    # Seeded rows: labelled by seed, and the gaps (+1, -1, +3 points) summarised: mean +1, sample deviation 2.
    seeded = [{**row, "epochs": 12, "qat_epochs": 1, "seed": seed, "ptq": 0.9, "qat": qat}
              for seed, qat in enumerate((0.91, 0.89, 0.93))]
    write(str(tmp_path), {"machine": machine(), "settings": {}, "rows": [row, *seeded]})
    table = (tmp_path / "qat.md").read_text()
    assert "| `mobilenet_v3_small` (seed 2) | digits | accuracy | 12 | 1 |" in table
    assert ("`mobilenet_v3_small` (12 + 1 epochs), 3 seeds: QAT int8 - PTQ int8 = +1.00 points on average "
            "(standard deviation 2.00; from -1.0 to +3.0)") in table


def test_digits_table_summarises_each_family_and_schedule(tmp_path):
    """benchmarks.digits: the spread per family and schedule, and the CI bound (mean - 4 sd), from the rows."""
    from benchmarks.digits import write
    from benchmarks.streaming import machine

    def row(schedule, seed, test, epochs=4):
        return {"model": "mobilenet_v2", "variant": "mobilenet_v2_035" if schedule == "short" else "mobilenet_v2",
                "schedule": schedule, "epochs": epochs, "batch": 32, "seed": seed, "test": test, "val": test, "seconds": 30.0}

    rows = [row("short", seed, test) for seed, test in enumerate((0.5, 0.6, 0.7))] + [row("full", 0, 0.95, 8)]
    rows.append(row("short", 3, 0.1, epochs=2))  # another schedule than today's: listed, not counted
    write(str(tmp_path), {"machine": machine(), "settings": {}, "rows": rows})
    table = (tmp_path / "digits.md").read_text()
    assert "| `mobilenet_v2` | `mobilenet_v2_035` | short | 4 | 32 | 2 | 0.700 | 0.700 | 30 |" in table
    assert "| `mobilenet_v2` | short | 3 | 0.600 | 0.100 | 0.500 | 0.700 | 0.200 |" in table  # sd 0.1: 0.6 - 0.4
    assert not any(line.startswith("| `mobilenet_v2` | full |") for line in table.splitlines())  # one run: no spread
    assert json.loads((tmp_path / "digits.json").read_text())["rows"][3]["test"] == 0.95
