"""``python -m benchmarks.backends``: the same model on TensorFlow, JAX and PyTorch, in one run.

For each backend a child process (``KERAS_BACKEND=...``) builds MobileNetV3-Large
(224x224, realistic weights) and measures, after warm-up, the median of:

- inference, batch 1: :func:`keras_lightnets.latency.keras_latency` (a
  ``tf.function``, ``jax.jit`` of the stateless call, eager torch under ``no_grad``);
- one training step, batch 32: ``train_on_batch`` (AdamW, cross-entropy), the
  step ``model.fit`` runs (compiled by ``tf.function`` / ``jax.jit``; eager torch).

Results are ratios to TensorFlow measured in the same run, with the CPU model
and flags. Writes ``benchmarks/results/backends.md`` and ``backends.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Sequence

from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets.validation import argparse_int

BACKENDS = ("tensorflow", "jax", "torch")

CHILD = """
import json, sys
import keras, numpy as np
from keras_lightnets.latency import keras_latency, median_seconds
from keras_lightnets.registry import create_model
from keras_lightnets.testing import realistic_weights
model_name, size, batch, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model = create_model(model_name, input_shape=(size, size, 3))
realistic_weights(model)
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
y = keras.utils.to_categorical(rng.integers(0, 1000, batch), 1000)
inference = keras_latency(model, x[:1], runs=runs, warmup=3)
model.compile(optimizer=keras.optimizers.AdamW(1e-4), loss="categorical_crossentropy")
train = median_seconds(lambda: model.train_on_batch(x, y), runs=max(runs // 4, 3), warmup=2)
print("RESULT " + json.dumps({"inference_b1_ms": inference * 1e3, "train_step_ms": train * 1e3}))
"""


def measure(backend: str, model: str, size: int, batch: int, runs: int) -> dict[str, float]:
    """One backend's timings, measured in a child process with ``KERAS_BACKEND=backend``."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, model, str(size), str(batch), str(runs)],
        env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{backend} benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[0][len("RESULT "):])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__)
    parser.add_argument("--model", default="mobilenet_v3_large")
    parser.add_argument("--size", type=argparse_int(32, "--size"), default=224)
    parser.add_argument("--batch", type=argparse_int(1, "--batch"), default=32, help="training batch")
    parser.add_argument("--runs", type=argparse_int(3, "--runs"), default=20, help="timed inference runs")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": vars(args),
        "backends": {},
    }
    for backend in BACKENDS:
        results["backends"][backend] = measure(backend, args.model, args.size, args.batch, args.runs)
        print(backend, results["backends"][backend], file=sys.stderr, flush=True)
    base = results["backends"]["tensorflow"]
    for timings in results["backends"].values():
        timings["inference_ratio"] = timings["inference_b1_ms"] / base["inference_b1_ms"]
        timings["train_ratio"] = timings["train_step_ms"] / base["train_step_ms"]
    lines = [
        f"# {args.model} on each Keras backend ({args.size}x{args.size}, CPU)",
        "",
        machine_text(results["machine"]) + " "
        "Ratios: backend / TensorFlow, same run.",
        "",
        f"| backend | inference b1 (ms) | ratio | train step b{args.batch} (ms) | ratio |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {t['inference_b1_ms']:.1f} | {t['inference_ratio']:.2f} | {t['train_step_ms']:.0f} | {t['train_ratio']:.2f} |"
            for name, t in results["backends"].items()
        ),
    ]
    write_results(args.output, "backends", results, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
