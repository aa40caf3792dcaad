"""``python -m benchmarks.mobilenet_v4``: MobileNetV4 beside our MobileNetV3-Large at equal MACs (TFLite).

No other Keras MobileNetV4 exists, so the peer is our own MobileNetV3-Large at the
input size whose multiply-adds equal the V4 variant's at ``--size`` (searched in
steps of 4 pixels). Each model gets realistic weights and is converted to float32
and full-integer int8 TFLite; the files are timed interleaved in one run
(LiteRT, XNNPACK, ``--threads``). Writes ``benchmarks/results/mobilenet_v4.md``
and ``mobilenet_v4.json`` with the CPU model and flags.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any, Sequence

from benchmarks.measure import tflite_latencies, timing_arguments
from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets import count_macs, create_model
from keras_lightnets.models.mobilenet_v4 import MOBILENET_V4_SPECS
from keras_lightnets.testing import realistic_weights

PEER = "mobilenet_v3_large"


def equal_macs_size(target: int, step: int = 4) -> tuple[int, int]:
    """The MobileNetV3-Large input size (a multiple of ``step``) whose MACs are closest to ``target``."""
    base = count_macs(create_model(PEER, input_shape=(224, 224, 3)))
    guess = max(step, round(224 * (target / base) ** 0.5 / step) * step)
    sizes = [guess + k * step for k in range(-3, 4) if guess + k * step >= 32]
    macs = {s: count_macs(create_model(PEER, input_shape=(s, s, 3))) for s in sizes}
    size = min(sizes, key=lambda s: (abs(macs[s] - target), s))
    return size, macs[size]


def _model(name: str, size: int) -> Any:
    model = create_model(name, input_shape=(size, size, 3))
    realistic_weights(model)
    return model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mobilenet_v4", description=__doc__)
    parser.add_argument("--variants", nargs="+", choices=sorted(MOBILENET_V4_SPECS), default=["conv_small", "conv_medium", "hybrid_medium"])
    timing_arguments(parser, runs=20, trials=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for variant in args.variants:
            name = f"mobilenet_v4_{variant}"
            model = _model(name, args.size)
            macs = count_macs(model)
            peer_size, peer_macs = equal_macs_size(macs)
            row: dict[str, Any] = {"model": name, "size": args.size, "macs": macs, "peer_size": peer_size, "peer_macs": peer_macs}
            models = {name: model, PEER: _model(PEER, peer_size)}
            for quantization in ("float32", "int8"):
                timed = tflite_latencies(models, folder, quantization, args.size, args.runs, args.threads)
                row[f"{quantization}_ms"] = timed[name]["ms"]
                row[f"peer_{quantization}_ms"] = timed[PEER]["ms"]
                row[f"{quantization}_mb"] = timed[name]["size_mb"]
                row[f"{quantization}_flex_ops"] = sorted(op for op in timed[name]["ops"] if op.startswith("Flex"))
            row["int8_over_float32"] = row["int8_ms"] / row["float32_ms"]
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    results = {"machine": machine(), "settings": vars(args), "rows": rows}
    lines = [
        f"# MobileNetV4 beside MobileNetV3-Large at equal MACs (TFLite, {args.threads} threads)",
        "",
        machine_text(results["machine"]) + " "
        f"Medians of {args.runs} interleaved runs; "
        "ratios are V4 / V3-Large measured in the same run.",
        "",
        "| model | input | MACs | float32 ms | int8 ms | int8 / float32 | V3-Large input (MACs) | V3-L float32 ms | V3-L int8 ms | V4 / V3-L float32 | V4 / V3-L int8 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `{r['model']}` | {r['size']} | {r['macs'] / 1e6:.0f} M | {r['float32_ms']:.2f} | {r['int8_ms']:.2f} | "
            f"{r['int8_over_float32']:.2f} | {r['peer_size']} ({r['peer_macs'] / 1e6:.0f} M) | {r['peer_float32_ms']:.2f} | "
            f"{r['peer_int8_ms']:.2f} | {r['float32_ms'] / r['peer_float32_ms']:.2f} | {r['int8_ms'] / r['peer_int8_ms']:.2f} |"
            for r in rows
        ),
    ]
    write_results(args.output, "mobilenet_v4", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
