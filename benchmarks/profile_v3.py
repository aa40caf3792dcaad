"""``python -m benchmarks.profile_v3``: where MobileNetV3's float32 TFLite time goes, block by block.

LiteRT's Python interpreter has no per-op profiler, so the profile is built from
prefixes: the model cut after the stem, after every inverted-residual block and
after the head convolution, each prefix converted to float32 TFLite and all timed
interleaved (LiteRT, XNNPACK, ``--threads``). A segment's time is the difference of
consecutive prefixes, its multiply-adds likewise (:func:`keras_lightnets.count_macs`),
so each segment gets a GFLOP/s to set against the NumPy float32 matmul peak measured
in the same run. Two ablations (other functions, timing bounds only) split the rest:
hard-swish replaced by ReLU (the elementwise cost of the activations) and the
squeeze-and-excitation gates removed (their pooling, tiny convolutions and multiply).
Writes ``benchmarks/results/profile_v3.md`` and ``profile_v3.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Sequence

import keras

from benchmarks.measure import file_rounds, matmul_peak, round_medians, timing_arguments
from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets import count_macs, create_model
from keras_lightnets.export import to_tflite
from keras_lightnets.layers import HardSwish
from keras_lightnets.testing import realistic_weights


class _First(keras.layers.Layer):
    """Returns its first input: a squeeze-and-excitation multiply without the gate (ablation only)."""

    def call(self, inputs: list[Any]) -> Any:
        return inputs[0]


def _cuts(model: keras.Model) -> list[str]:
    """Layer names after which the model is cut: stem, each block's output, head convolution."""
    names = [layer.name for layer in model.layers]
    blocks = sorted({int(n.split("_")[1]) for n in names if n.startswith("block_")})
    ends = [f"block_{b}_add" if f"block_{b}_add" in names else f"block_{b}_project_bn" for b in blocks]
    return ["stem_act", *ends, "head_conv_act"]


def ablation(model: keras.Model, kind: str) -> keras.Model:
    """``model`` with hard-swish as ReLU (``"relu"``) or without SE gates (``"no_se"``), same weights."""

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if kind == "relu" and isinstance(layer, HardSwish):
            return keras.layers.ReLU(name=layer.name)
        if kind == "no_se" and isinstance(layer, keras.layers.Multiply) and "_se" in layer.name:
            return _First(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for target in copy.layers:
        source = model.get_layer(target.name)
        if source.weights:
            target.set_weights(source.get_weights())
    return copy


def profile(name: str, size: int, runs: int, trials: int, threads: int, folder: str) -> dict[str, Any]:
    model = create_model(name, input_shape=(size, size, 3))
    realistic_weights(model)
    cuts = _cuts(model)
    models = {cut: keras.Model(model.input, model.get_layer(cut).output) for cut in cuts}
    models["classifier"] = model
    models["relu_activations"] = ablation(model, "relu")
    models["no_se"] = ablation(model, "no_se")
    paths = {}
    for label, sub in models.items():
        paths[label] = os.path.join(folder, f"{name}_{label}.tflite")
        to_tflite(sub, paths[label])
    medians = round_medians(file_rounds(list(paths.values()), runs, trials, threads))
    ms = {label: seconds * 1e3 for label, seconds in zip(paths, medians)}
    macs = {label: count_macs(models[label]) for label in [*cuts, "classifier"]}
    segments, previous_ms, previous_macs = [], 0.0, 0
    for label in [*cuts, "classifier"]:
        seg_ms, seg_macs = ms[label] - previous_ms, macs[label] - previous_macs
        segments.append({"segment": label, "ms": seg_ms, "macs": seg_macs,
                         "gflops": 2 * seg_macs / (seg_ms / 1e3) / 1e9 if seg_ms > 0 else float("nan")})
        previous_ms, previous_macs = ms[label], macs[label]
    return {"model": name, "ms": ms, "segments": segments, "total_ms": ms["classifier"], "total_macs": macs["classifier"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_v3", description=__doc__)
    parser.add_argument("--model", choices=["mobilenet_v3_large", "mobilenet_v3_small"], default="mobilenet_v3_large")
    timing_arguments(parser, runs=50)
    args = parser.parse_args(argv)
    peak = matmul_peak(2048)
    with tempfile.TemporaryDirectory() as folder:
        result = profile(args.model, args.size, args.runs, args.trials, args.threads, folder)
    result["matmul_gflops"] = peak
    results = {"machine": machine(), "settings": vars(args), **result}
    total, ms = result["total_ms"], result["ms"]
    achieved = 2 * result["total_macs"] / (total / 1e3) / 1e9
    lines = [
        f"# Where {args.model}'s float32 TFLite time goes ({args.size}x{args.size}, {args.threads} threads)",
        "",
        machine_text(results["machine"]) + " "
        f"Prefix files timed interleaved, medians over "
        f"{args.trials} rounds of {args.runs} runs. NumPy float32 matmul peak: {peak:.1f} GFLOP/s; the whole model "
        f"reaches {achieved:.1f} GFLOP/s ({achieved / peak:.2f} of it) in {total:.2f} ms.",
        "",
        f"Ablations (other functions; timing bounds): hard-swish as ReLU {ms['relu_activations']:.2f} ms "
        f"({1 - ms['relu_activations'] / total:.1%} less), without SE gates {ms['no_se']:.2f} ms "
        f"({1 - ms['no_se'] / total:.1%} less).",
        "",
        "| segment | MACs (M) | ms | share of time | share of MACs | GFLOP/s | fraction of peak |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {s['segment']} | {s['macs'] / 1e6:.1f} | {s['ms']:.3f} | {s['ms'] / total:.1%} | "
            f"{s['macs'] / result['total_macs']:.1%} | {s['gflops']:.1f} | {s['gflops'] / peak:.2f} |"
            for s in result["segments"]
        ),
    ]
    write_results(args.output, "profile_v3", results, lines)
    print(f"{args.model}: {total:.2f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
