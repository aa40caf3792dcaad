"""``python -m benchmarks.int8``: float32 and full-integer int8 TFLite of every registered model.

Each model gets realistic weights (:func:`keras_lightnets.testing.realistic_weights`)
and is converted by :func:`keras_lightnets.export.to_tflite` (the package's
export spellings) to float32 and int8 at ``--size``; the two files are timed
interleaved (LiteRT, XNNPACK, ``--threads``) in ``--trials`` rounds of
``--runs``, and the ratio is the median over rounds of int8 / float32. The
XNNPACK partitions and the ops it leaves to LiteRT's own kernels come from
:func:`keras_lightnets.litert.tflite_delegation`. Writes
``benchmarks/results/int8.md`` and ``int8.json`` with the CPU model and flags;
``--update --models ...`` re-measures those models in an existing ``int8.json``
(e.g. rows disturbed by other work on a shared machine) and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Any, Sequence

from benchmarks.measure import convert, file_rounds, round_medians, timing_arguments
from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets import count_macs, create_model, list_models
from keras_lightnets.testing import realistic_weights

TARGET = 0.7  # issue 16: int8 at most 0.7x float32 for every registered model


def measure_model(name: str, size: int, runs: int, trials: int, threads: int, folder: str) -> dict[str, Any]:
    """Figures of one registered model: MACs, both files' latency, ratio, delegation."""
    model = create_model(name, input_shape=(size, size, 3))
    realistic_weights(model)
    row: dict[str, Any] = {"model": name, "macs": count_macs(model)}
    paths = {}
    for quantization in ("float32", "int8"):
        paths[quantization] = os.path.join(folder, f"{name}_{quantization}.tflite")
        figures = convert(model, paths[quantization], quantization, size)
        row[f"{quantization}_partitions"] = figures["partitions"]
        row[f"{quantization}_undelegated"] = figures["undelegated"]
    rounds = file_rounds(list(paths.values()), runs, trials, threads)
    row["float32_ms"], row["int8_ms"] = (seconds * 1e3 for seconds in round_medians(rounds))
    row["ratios"] = [r[1] / r[0] for r in rounds]
    row["int8_over_float32"] = statistics.median(row["ratios"])
    return row


def _undelegated(ops: dict[str, int]) -> str:
    return ", ".join(f"{op} x{count}" for op, count in sorted(ops.items())) or "none"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8", description=__doc__)
    parser.add_argument("--models", nargs="+", choices=list_models(), default=None, help="default: every registered model")
    parser.add_argument("--update", action="store_true", help="re-measure --models in the existing int8.json, keep the other rows")
    timing_arguments(parser, runs=30)
    args = parser.parse_args(argv)
    previous = os.path.join(args.output, "int8.json")
    if args.update and not os.path.isfile(previous):
        parser.error(f"--update needs an existing {previous!r}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models or list_models():
            rows.append(measure_model(name, args.size, args.runs, args.trials, args.threads, folder))
            print({k: rows[-1][k] for k in ("model", "float32_ms", "int8_ms", "int8_over_float32")}, file=sys.stderr, flush=True)
    if args.update:
        with open(previous, encoding="utf-8") as file:
            old = json.load(file)["rows"]
        fresh = {row["model"]: row for row in rows}
        rows = [fresh.pop(row["model"], row) for row in old] + list(fresh.values())
    results = {"machine": machine(), "settings": vars(args), "rows": rows}
    worst = max(rows, key=lambda r: r["int8_over_float32"])
    missed = [r["model"] for r in rows if r["int8_over_float32"] > TARGET]
    lines = [
        f"# int8 against float32 TFLite, every registered model ({args.size}x{args.size}, {args.threads} threads)",
        "",
        machine_text(results["machine"]) + " "
        f"Each pair of files timed interleaved, "
        f"{args.trials} rounds of {args.runs} runs; ms are medians over rounds, the ratio is the median of the "
        "rounds' ratios. Partitions: XNNPACK delegate partitions (1 = the whole graph); undelegated: ops left "
        "to LiteRT's own kernels.",
        "",
        f"Target int8 / float32 <= {TARGET}: worst {worst['int8_over_float32']:.2f} (`{worst['model']}`); "
        f"above the target: {', '.join(f'`{m}`' for m in missed) or 'none'}.",
        "",
        "| model | MACs | float32 ms | int8 ms | int8 / float32 | partitions f32 / int8 | undelegated in int8 |",
        "|---|---:|---:|---:|---:|---:|---|",
        *(
            f"| `{r['model']}` | {r['macs'] / 1e6:.0f} M | {r['float32_ms']:.2f} | {r['int8_ms']:.2f} | "
            f"{r['int8_over_float32']:.2f} | {r['float32_partitions']} / {r['int8_partitions']} | "
            f"{_undelegated(r['int8_undelegated'])} |"
            for r in rows
        ),
    ]
    write_results(args.output, "int8", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
