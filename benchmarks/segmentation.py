"""``python -m benchmarks.segmentation``: segmenter TFLite files beside torchvision's ``lraspp_mobilenet_v3_large``.

Each chosen segmenter (default: every LR-ASPP and ``deeplabv3_mobilenet_v3_large``) is
built at ``--size`` (512) for Pascal VOC's 21 classes with realistic weights and written
with :func:`keras_lightnets.export.to_tflite` in float32 and full-integer int8 (logits
out). Recorded per file: the resize and pooling ops it uses and whether XNNPACK runs
the whole graph (delegate partitions, ops left outside). The files and the peer —
torchvision's ``lraspp_mobilenet_v3_large`` on PyTorch CPU, ``model(x)["out"]`` — are
timed interleaved in one run (``--threads`` for both). Writes
``benchmarks/results/segmentation.md`` and ``segmentation.json``.
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
from keras_lightnets.export import to_tflite
from keras_lightnets.litert import tflite_delegation, tflite_runner
from keras_lightnets.testing import realistic_weights

SEGMENTERS = tuple(list_models(task="segmentation"))
DEFAULT = tuple(n for n in SEGMENTERS if n.startswith("lraspp_")) + ("deeplabv3_mobilenet_v3_large",)
WATCHED = ("RESIZE_BILINEAR", "MEAN", "AVERAGE_POOL_2D", "LOGISTIC")


def _torchvision_step(threads: int, size: int) -> Callable[[], Any]:
    """One forward of torchvision's LR-ASPP (eval, no grad) on a fixed random batch of one."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    image = torch.rand(1, 3, size, size)

    def step() -> Any:
        with torch.no_grad():
            return model(image)["out"]

    return step


def main(argv: Sequence[str] | None = None) -> int:
    """Run the segmentation benchmark; write the report; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segmentation", description=__doc__)
    parser.add_argument("--models", nargs="+", choices=SEGMENTERS, default=list(DEFAULT))
    timing_arguments(parser, runs=10)
    parser.set_defaults(size=512)
    args = parser.parse_args(argv)
    torch_step = _torchvision_step(args.threads, args.size)
    rows, paths = [], []
    calibration = np.random.default_rng(0).uniform(0, 255, (8, args.size, args.size, 3)).astype("float32")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            model = create_model(name, num_classes=21, input_shape=(args.size, args.size, 3))
            realistic_weights(model)
            row: dict[str, Any] = {
                "model": name, "macs": count_macs(model),
                "params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            }
            for quantization in ("float32", "int8"):
                path = os.path.join(folder, f"{name}_{quantization}.tflite")
                report = to_tflite(model, path, quantization, calibration, num_calibration=len(calibration))
                delegation = tflite_delegation(path)
                row[f"{quantization}_mb"] = report.size_bytes / 1e6
                row[f"{quantization}_ops"] = {op: report.ops[op] for op in WATCHED if op in report.ops}
                row[f"{quantization}_flex_ops"] = sorted(op for op in report.ops if op.startswith("Flex"))
                row[f"{quantization}_partitions"] = delegation.partitions
                row[f"{quantization}_undelegated"] = dict(delegation.undelegated)
                paths.append(path)
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        steps = [tflite_runner(path, args.threads) for path in paths] + [torch_step]
        seconds = round_medians([interleaved(steps, args.runs, max(2, args.runs // 5)) for _ in range(args.trials)])
    peer_ms = seconds[-1] * 1e3
    for index, row in enumerate(rows):
        row["float32_ms"], row["int8_ms"] = seconds[2 * index] * 1e3, seconds[2 * index + 1] * 1e3
    results = {"machine": machine(), "settings": vars(args), "torchvision_ms": peer_ms, "rows": rows}

    def ops(row: dict[str, Any], quantization: str) -> str:
        found = ", ".join(f"{op} {count}" for op, count in row[f"{quantization}_ops"].items())
        outside = ", ".join(f"{op} {count}" for op, count in row[f"{quantization}_undelegated"].items()) or "none"
        return f"{found}; partitions {row[f'{quantization}_partitions']}, outside XNNPACK: {outside}"

    lines = [
        f"# Segmenter files (LiteRT, {args.threads} threads) beside torchvision's lraspp_mobilenet_v3_large",
        "",
        machine_text(results["machine"]) + f" {args.size}x{args.size}, 21 classes, logits out; medians of "
        f"{args.trials} rounds of {args.runs} interleaved runs. torchvision (PyTorch CPU, {args.threads} threads, "
        f"`model(x)[\"out\"]`): {peer_ms:.1f} ms.",
        "",
        "| segmenter | MACs | params | float32 ms | int8 ms | float32 MB | int8 MB | float32 / torchvision | int8 / torchvision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `{r['model']}` | {r['macs'] / 1e6:.0f} M | {r['params']:,d} | {r['float32_ms']:.1f} | {r['int8_ms']:.1f} | "
            f"{r['float32_mb']:.2f} | {r['int8_mb']:.2f} | {r['float32_ms'] / peer_ms:.2f} | {r['int8_ms'] / peer_ms:.2f} |"
            for r in rows
        ),
        "",
        "Resize / pooling / gate ops in each file, and XNNPACK delegation:",
        "",
        *(f"- `{r['model']}`: float32 {ops(r, 'float32')}. int8 {ops(r, 'int8')}." for r in rows),
    ]
    write_results(args.output, "segmentation", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
