"""``python -m benchmarks.detection``: SSDLite detector files beside torchvision's ``ssdlite320_mobilenet_v3_large``.

Every registered detector (``list_models(task="detection")``) is built at 320x320 for the
90 COCO classes with realistic weights and written as the phone file
(:func:`keras_lightnets.detection.detector_to_tflite`: post-processing included, score
threshold ``--score-threshold``, default the file's 0.01, and 100 detections) in float32 and
full-integer int8. With realistic random weights every one of the 90 classes scores about
1/91 >= 0.01 at every anchor, so at 0.01 the per-class NMS dominates (the worst case); an
app's threshold (0.3) times the network. The
files and the peer — torchvision's ``ssdlite320_mobilenet_v3_large`` (reduced tail,
90 classes) on PyTorch CPU, ``model([image])`` including its resize, normalisation and
NMS — are timed interleaved in one run (``--threads`` for both). Writes
``benchmarks/results/detection.md`` and ``detection.json`` with MACs, parameters,
the CPU model and flags.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Callable, Sequence

import numpy as np
import torch  # before TensorFlow: torchvision imported after it crashes the process (see tests/conftest.py)
import torchvision

from benchmarks.measure import interleaved, round_medians, timing_arguments
from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets import count_macs, create_model, list_models
from keras_lightnets.detection import detector_to_tflite
from keras_lightnets.litert import tflite_runner
from keras_lightnets.testing import realistic_weights

DETECTORS = tuple(list_models(task="detection"))


def _torchvision_step(threads: int, size: int) -> Callable[[], Any]:
    """One forward of torchvision's SSDLite (eval, no grad) on a fixed random image."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=91
    ).eval()
    image = torch.rand(3, size, size)

    def step() -> Any:
        with torch.no_grad():
            return model([image])

    return step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detection", description=__doc__)
    parser.add_argument("--models", nargs="+", choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument("--score-threshold", type=float, default=0.01, help="the files' NMS score threshold, in [0, 1)")
    timing_arguments(parser, runs=20)
    parser.set_defaults(size=320)
    args = parser.parse_args(argv)
    torch_step = _torchvision_step(args.threads, args.size)
    rows, paths = [], []
    calibration = np.random.default_rng(0).uniform(0, 255, (8, args.size, args.size, 3)).astype("float32")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            model = create_model(name, num_classes=90, input_shape=(args.size, args.size, 3))
            realistic_weights(model)
            row: dict[str, Any] = {
                "model": name, "macs": count_macs(model),
                "params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            }
            for quantization in ("float32", "int8"):
                path = os.path.join(folder, f"{name}_{quantization}.tflite")
                report = detector_to_tflite(model, path, quantization, calibration, num_calibration=len(calibration),
                                            score_threshold=args.score_threshold)
                row[f"{quantization}_mb"] = report.size_bytes / 1e6
                row[f"{quantization}_flex_ops"] = sorted(op for op in report.ops if op.startswith("Flex"))
                paths.append(path)
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        steps = [tflite_runner(path, args.threads) for path in paths] + [torch_step]
        seconds = round_medians([interleaved(steps, args.runs, max(2, args.runs // 5)) for _ in range(args.trials)])
    peer_ms = seconds[-1] * 1e3
    for index, row in enumerate(rows):
        row["float32_ms"], row["int8_ms"] = seconds[2 * index] * 1e3, seconds[2 * index + 1] * 1e3
    results = {"machine": machine(), "settings": vars(args), "torchvision_ms": peer_ms, "rows": rows}
    lines = [
        f"# SSDLite detector files (LiteRT, {args.threads} threads) beside torchvision's ssdlite320_mobilenet_v3_large",
        "",
        machine_text(results["machine"]) + f" {args.size}x{args.size}, 90 classes, post-processing included; medians "
        f"of {args.trials} rounds of {args.runs} interleaved runs; NMS score threshold {args.score_threshold}. torchvision (PyTorch CPU, {args.threads} threads, "
        f"its transform and NMS included): {peer_ms:.2f} ms.",
        "",
        "| detector | MACs | params | float32 ms | int8 ms | float32 MB | int8 MB | float32 / torchvision | int8 / torchvision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `{r['model']}` | {r['macs'] / 1e6:.0f} M | {r['params']:,d} | {r['float32_ms']:.2f} | {r['int8_ms']:.2f} | "
            f"{r['float32_mb']:.2f} | {r['int8_mb']:.2f} | {r['float32_ms'] / peer_ms:.2f} | {r['int8_ms'] / peer_ms:.2f} |"
            for r in rows
        ),
    ]
    write_results(args.output, "detection", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
