"""``python -m benchmarks``: ours against keras.applications, written to ``benchmarks/results``.

Ratios are ours / keras.applications measured in the same run (below 1.0: ours
is faster). Absolute times on a shared machine are noise; ratios are not.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from benchmarks.measure import (
    PAIRS,
    SHUFFLE_PEERS,
    build_pair,
    growth_exponent,
    interleaved,
    keras_forward,
    matmul_peak,
    tflite_latencies,
    train_step,
    without_shuffle,
)
from benchmarks.report import write_report
from benchmarks.streaming import machine
from keras_lightnets import MobileNetV2, count_macs, create_model
from keras_lightnets.testing import realistic_weights
from keras_lightnets.validation import argparse_int


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run for CI (< 2 min): one pair, 96x96, few runs")
    parser.add_argument("--models", nargs="+", choices=sorted(PAIRS), help="pairs to compare (default: all; quick: v3 small)")
    parser.add_argument("--size", type=argparse_int(32, "--size"), default=None, help="input size (default 224; quick 96)")
    parser.add_argument("--batch", type=argparse_int(1, "--batch"), default=None, help="batch for Keras/train (default 32; quick 4)")
    parser.add_argument("--runs", type=argparse_int(1, "--runs"), default=None, help="timed runs per figure (default 30; quick 3)")
    parser.add_argument("--threads", type=argparse_int(1, "--threads"), default=2, help="LiteRT threads")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"), help="results folder")
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    return {
        "quick": quick,
        "models": args.models or (["mobilenet_v3_small"] if quick else ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]),
        "size": args.size or (96 if quick else 224),
        "batch": args.batch or (4 if quick else 32),
        "runs": args.runs or (3 if quick else 30),
        "threads": args.threads,
        "quantizations": ["float32", "int8"] if quick else ["float32", "float16", "dynamic", "int8"],
        "scaling_sizes": [64, 96] if quick else [96, 128, 160, 192, 224, 256],
        "scaling_alphas": [0.5] if quick else [0.35, 0.5, 0.75, 1.0, 1.4],
        "scaling_batches": [1, 4] if quick else [1, 4, 16, 32, 64],
        "shuffle_quantizations": ["float32"] if quick else ["float32", "int8"],
        "shuffle_rounds": 1 if quick else 5,
        "shufflenets": ["shufflenet_v2_x0_5"] if quick else ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v1_g3_x1_0"],
    }


def _pair_figures(name: str, s: dict[str, Any], folder: str) -> dict[str, Any]:
    pair, size, runs, warmup = PAIRS[name], s["size"], s["runs"], max(2, s["runs"] // 5)
    build_runs = 1 if s["quick"] else 3
    build = interleaved(
        [
            lambda: create_model(pair.name, input_shape=(size, size, 3)),
            lambda: pair.reference(weights=None, input_shape=(size, size, 3), **pair.kwargs),
        ],
        build_runs,
        0,
    )
    ours, reference = build_pair(pair, size)
    paths = [os.path.join(folder, f"{name}_{who}.keras") for who in ("ours", "ref")]
    ours.save(paths[0])
    reference.save(paths[1])
    load = interleaved([lambda p=p: keras.models.load_model(p) for p in paths], build_runs, 0)
    figures: dict[str, Any] = {
        "params": ours.count_params(),
        "macs": count_macs(ours),
        "build_s": build,
        "load_s": load,
        "keras_b1_ms": [t * 1e3 for t in interleaved([keras_forward(m, 1, size) for m in (ours, reference)], runs, warmup)],
        "keras_batch_ms": [
            t * 1e3 for t in interleaved([keras_forward(m, s["batch"], size) for m in (ours, reference)], runs, warmup)
        ],
        "train_step_ms": [
            t * 1e3 for t in interleaved([train_step(m, s["batch"], size) for m in (ours, reference)], max(3, runs // 3), 2)
        ],
        "tflite": {},
    }
    for quantization in s["quantizations"]:
        timed = tflite_latencies({"ours": ours, "ref": reference}, folder, quantization, size, runs, s["threads"])
        figures["tflite"][quantization] = {
            who: {"ms": timed[who]["ms"], "size_mb": timed[who]["size_mb"], "ops": timed[who]["ops"]} for who in timed
        }
    return figures


def _scaling(s: dict[str, Any], folder: str) -> dict[str, Any]:
    name = "mobilenet_v3_small" if s["quick"] else "mobilenet_v3_large"
    sizes = s["scaling_sizes"]
    by_size = [
        tflite_latencies({name: create_model(name, input_shape=(n, n, 3))}, folder, "float32", n, s["runs"], s["threads"])[name]["ms"]
        for n in sizes
    ]
    alphas = s["scaling_alphas"]
    by_alpha = []
    for alpha in alphas:
        model = MobileNetV2(alpha=alpha, input_shape=(s["size"], s["size"], 3))
        label = f"mobilenet_v2_a{alpha}"
        by_alpha.append(tflite_latencies({label: model}, folder, "float32", s["size"], s["runs"], s["threads"])[label]["ms"])
    model = create_model(name, input_shape=(s["size"], s["size"], 3))
    batches = s["scaling_batches"]
    by_batch = [
        interleaved([keras_forward(model, b, s["size"])], max(3, s["runs"] // 3), 2)[0] * 1e3 for b in batches
    ]
    return {
        "size": {"model": name, "sizes": sizes, "tflite_float32_ms": by_size,
                 "exponent": growth_exponent([n * n for n in sizes], by_size)},
        "width": {"model": "mobilenet_v2", "alphas": alphas, "tflite_float32_ms": by_alpha},
        "batch": {"model": name, "batches": batches, "keras_ms": by_batch,
                  "ms_per_image": [t / b for t, b in zip(by_batch, batches)]},
    }


def _shufflenets(s: dict[str, Any], folder: str) -> dict[str, Any]:
    out = {}
    shape = (s["size"], s["size"], 3)
    for name in s["shufflenets"]:
        peer = SHUFFLE_PEERS[name]
        model, other = create_model(name, input_shape=shape), create_model(peer, input_shape=shape)
        realistic_weights(model)
        entry: dict[str, Any] = {"peer": peer, "macs": count_macs(model), "peer_macs": count_macs(other)}
        kept, plain = f"{name}_kept", f"{name}_noshuffle"
        for quantization in s["shuffle_quantizations"]:
            timed = tflite_latencies(
                {name: model, kept: model, plain: without_shuffle(model), peer: other},
                folder, quantization, s["size"], s["runs"], s["threads"], kept=frozenset({kept}), rounds=s["shuffle_rounds"],
            )
            entry[f"{quantization}_ms"] = [timed[name]["ms"], timed[peer]["ms"]]
            entry[f"{quantization}_kept_ms"] = timed[kept]["ms"]
            entry[f"{quantization}_noshuffle_ms"] = timed[plain]["ms"]
            entry[f"{quantization}_ops"] = timed[name]["ops"]
        entry["shuffle_share"] = 1.0 - entry["float32_noshuffle_ms"] / entry["float32_ms"][0]
        entry["kept_shuffle_share"] = 1.0 - entry["float32_noshuffle_ms"] / entry["float32_kept_ms"]
        entry["absorbed_over_kept"] = entry["float32_ms"][0] / entry["float32_kept_ms"]
        out[name] = entry
    return out


def measure(s: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {
            **machine(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        "settings": s,
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results["matmul_gflops"] = matmul_peak(1024 if s["quick"] else 4096)
        results["pairs"] = {}
        for name in s["models"]:
            print(f"[benchmarks] {time.perf_counter() - started:.0f} s: {name} ...", file=sys.stderr, flush=True)
            results["pairs"][name] = _pair_figures(name, s, folder)
        print(f"[benchmarks] {time.perf_counter() - started:.0f} s: scaling ...", file=sys.stderr, flush=True)
        results["scaling"] = _scaling(s, folder)
        print(f"[benchmarks] {time.perf_counter() - started:.0f} s: shufflenets ...", file=sys.stderr, flush=True)
        results["shufflenets"] = _shufflenets(s, folder)
    results["seconds"] = time.perf_counter() - started
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments (bad ones exit 2), measure, write the report; return the exit code."""
    args = _parser().parse_args(argv)
    output = os.path.abspath(args.output)
    if not os.path.isdir(os.path.dirname(output)):
        print(f"python -m benchmarks: error: the parent of --output does not exist: {output!r}", file=sys.stderr)
        return 2

    results = measure(_settings(args))
    for path in write_report(results, output):
        print(path)
    return 0
