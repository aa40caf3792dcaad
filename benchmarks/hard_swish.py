"""``python -m benchmarks.hard_swish``: the cost of each TFLite spelling of hard-swish, float32 and int8.

MobileNetV3 spends most of its elementwise work in hard-swish, ``x * relu6(x + 3) / 6``.
Spellings timed here, each in a file converted by :func:`keras_lightnets.export.to_tflite`:

- ``fused``: one ``HARD_SWISH`` op (the converter fuses the plain formula);
- ``decomposed``: ``(x / 6) * relu6((x / 6) * 6 + 3)``: MUL, MUL, ADD (ReLU6 fused), MUL
  (the package's int8 default, :class:`keras_lightnets.layers.HardSwish` ``decomposed=True``);
- ``gate``: ``x * (relu6(x + 3) * (1 / 6))``: ADD (ReLU6 fused), MUL, MUL, if the
  converter leaves it unfused (the op counts in the report say);
- ``folded`` (a timing bound, not a function we export): ``x * relu6(x + 3)``, ADD and
  MUL only, the cost if the 1/6 were folded into the next layer's weights.

Realistic weights, input ``--size``, LiteRT with ``--threads``; the files of one model
and precision are timed interleaved in ``--trials`` rounds of ``--runs``. Writes
``benchmarks/results/hard_swish.md`` and ``hard_swish.json`` with the CPU model and flags.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from typing import Any, Iterator, Sequence

import keras
from keras import ops

from benchmarks.measure import file_rounds, round_medians, timing_arguments
from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets import create_model
from keras_lightnets.export import to_tflite
from keras_lightnets.layers import HardSwish
from keras_lightnets.litert import tflite_ops
from keras_lightnets.testing import realistic_weights

SPELLINGS = {
    "fused": lambda x: x * ops.relu6(x + 3.0) * (1.0 / 6.0),
    "decomposed": lambda x: (x * (1.0 / 6.0)) * ops.relu6((x * (1.0 / 6.0)) * 6.0 + 3.0),
    "gate": lambda x: x * (ops.relu6(x + 3.0) * (1.0 / 6.0)),
    "folded": lambda x: x * ops.relu6(x + 3.0),
}


@contextlib.contextmanager
def spelled(spelling: str) -> Iterator[None]:
    """Every HardSwish layer computes ``SPELLINGS[spelling]`` while converting."""
    original = HardSwish.call
    HardSwish.call = lambda self, inputs: SPELLINGS[spelling](inputs)
    try:
        yield
    finally:
        HardSwish.call = original


def measure(name: str, size: int, quantization: str, runs: int, trials: int, threads: int, folder: str) -> dict[str, Any]:
    model = create_model(name, input_shape=(size, size, 3))
    realistic_weights(model)
    calibration = keras.random.uniform((8, size, size, 3), -1.0, 1.0, seed=1)
    paths, counts = {}, {}
    for spelling in SPELLINGS:
        paths[spelling] = os.path.join(folder, f"{name}_{quantization}_{spelling}.tflite")
        with spelled(spelling):
            to_tflite(
                model, paths[spelling], quantization, ops.convert_to_numpy(calibration) if quantization == "int8" else None,
                num_calibration=8, hard_swish="fused",
            )
        found = tflite_ops(paths[spelling])
        counts[spelling] = {op: found.get(op, 0) for op in ("HARD_SWISH", "MUL", "ADD")}
    medians = round_medians(file_rounds(list(paths.values()), runs, trials, threads))
    ms = {spelling: seconds * 1e3 for spelling, seconds in zip(paths, medians)}
    return {"model": name, "quantization": quantization, "ms": ms, "ops": counts}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hard_swish", description=__doc__)
    parser.add_argument("--models", nargs="+", default=["mobilenet_v3_small", "mobilenet_v3_large"])
    timing_arguments(parser, runs=30)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            for quantization in ("float32", "int8"):
                rows.append(measure(name, args.size, quantization, args.runs, args.trials, args.threads, folder))
                print(rows[-1], file=sys.stderr, flush=True)
    results = {"machine": machine(), "settings": vars(args), "rows": rows}
    names = list(SPELLINGS)
    lines = [
        f"# Hard-swish spellings in TFLite ({args.size}x{args.size}, {args.threads} threads)",
        "",
        machine_text(results["machine"]) + " "
        f"Medians over {args.trials} rounds of {args.runs} "
        "interleaved runs. `folded` is a bound (the 1/6 left out, as if folded into the next weights), not an "
        "exported function.",
        "",
        "| model | precision | " + " | ".join(f"{s} ms" for s in names) + " | ops (HARD_SWISH/MUL/ADD) per spelling |",
        "|---|---|" + "---:|" * len(names) + "---|",
        *(
            f"| `{r['model']}` | {r['quantization']} | " + " | ".join(f"{r['ms'][s]:.2f}" for s in names) + " | "
            + ", ".join(f"{s} {c['HARD_SWISH']}/{c['MUL']}/{c['ADD']}" for s, c in r["ops"].items()) + " |"
            for r in rows
        ),
    ]
    write_results(args.output, "hard_swish", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
