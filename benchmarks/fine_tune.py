"""``python -m benchmarks.fine_tune``: which fine-tuning schedule holds on small, messy data?

Target task: colour digit photos 5-9 (:func:`keras_lightnets.synthetic.digit_photos`:
clutter, noise, JPEG/PNG/GIF in five modes, sides 48-112 px) read at 64x64 with
MobileNetV3-Small, at three training-set sizes (10, 30, 150 images per class; val 10
and test 40 per class, different handwriting). Two pretrained sources:

* ``same domain``: the same network trained from scratch on colour digit photos 0-4 (300 per class);
* ``other task``: trained on filled shapes on the same backgrounds (8 classes, 150 each), the
  stand-in for ImageNet on a machine that cannot download it.

Each schedule fine-tunes every (size, source) pair once with the same seed; "scratch"
trains from random weights with the default schedule. Reported: Keras and int8 TFLite
test accuracy (test split evaluated once per run, after selection-free training: no
early stopping), the optimizer steps of each phase and the seconds. Writes
``benchmarks/results/fine_tune.md`` and ``fine_tune.json``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

from benchmarks.streaming import machine, machine_text, write_results
from keras_lightnets.data import image_folder
from keras_lightnets.export import to_tflite
from keras_lightnets.litert import run_tflite
from keras_lightnets.synthetic import digit_photos, shape_photos
from keras_lightnets.train import fit
from keras_lightnets.validation import argparse_int

MODEL = "mobilenet_v3_small"
SIZE = 64
SIZES = (10, 30, 150)
# Schedules: fit() keyword arguments. "defaults" passes none (what a user gets).
SCHEDULES: dict[str, dict[str, Any]] = {
    "before (12 one-pass epochs, head 2, lr 3e-3 / 3e-4)": dict(
        epochs=12, freeze_epochs=2, learning_rate=3e-3, fine_tune_learning_rate=3e-4, min_epoch_steps=1
    ),
    "defaults": {},
    "defaults, lr 3e-3 / 3e-4": dict(learning_rate=3e-3, fine_tune_learning_rate=3e-4),
    "defaults, BatchNorm trains in phase 2": dict(fine_tune_batch_norm=True),
}


def _sources(folder: str, epochs: int) -> dict[str, str]:
    """Train the two pretrained sources; return ``{name: .keras path}``."""
    paths = {}
    for name, root in (
        ("same domain", digit_photos(os.path.join(folder, "digits_0_4"), classes=(0, 1, 2, 3, 4),
                                     counts={"train": 300, "val": 20, "test": 20}, seed=1)),
        ("other task", shape_photos(os.path.join(folder, "shapes"), counts={"train": 150, "val": 20, "test": 20},
                                    seed=2)),
    ):
        data = image_folder(root, SIZE, 64, flip=False, cache=True)
        result = fit(MODEL, data, epochs=epochs, verbose=0)
        paths[name] = os.path.join(folder, f"{name.replace(' ', '_')}.keras")
        result.model.save(paths[name])
        print(f"source {name}: test accuracy {result.test_accuracy:.3f} ({epochs} epochs)", flush=True)
    return paths


def _int8_accuracy(model: Any, data: Any, folder: str) -> float:
    path = os.path.join(folder, "int8.tflite")
    to_tflite(model, path, "int8", data.calibration, num_calibration=min(100, len(data.calibration)), overwrite=True)
    images, labels = data.arrays("test")
    return float(np.mean(run_tflite(path, images).argmax(-1) == labels))


def measure(folder: str, sizes: Sequence[int], schedules: dict[str, dict[str, Any]], source_epochs: int) -> list[dict[str, Any]]:
    sources = _sources(folder, source_epochs)
    rows = []
    for per_class in sizes:
        root = digit_photos(os.path.join(folder, f"digits_5_9_{per_class}"), classes=(5, 6, 7, 8, 9),
                            counts={"train": per_class, "val": 10, "test": 40}, seed=3)
        data = image_folder(root, SIZE, 64, flip=False, cache=True)
        runs = [("scratch", None, {})] + [
            (schedule, source, kwargs)
            for schedule, kwargs in schedules.items()
            for source in sources.items()
            if source[0] == "same domain" or "BatchNorm" not in schedule  # BatchNorm question: same domain only
        ]
        for schedule, source, kwargs in runs:
            start = time.perf_counter()
            weights = None if source is None else source[1]
            result = fit(MODEL, data, weights=weights, verbose=0, **kwargs)
            row = {
                "train_per_class": per_class,
                "source": "none" if source is None else source[0],
                "schedule": schedule,
                "keras_test": result.test_accuracy,
                "int8_test": _int8_accuracy(result.model, data, folder),
                "val": result.val_accuracy,
                "epochs": result.epochs_run,
                "steps": int(result.model.optimizer.iterations.numpy()) if result.model.optimizer else None,
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            print(row, flush=True)
    return rows


def write(rows: list[dict[str, Any]], output: str, note: str = "") -> None:
    """``fine_tune.md`` / ``.json`` in ``output`` from measured rows (``note``: a line on how they were obtained)."""
    results = {"machine": machine(), "model": MODEL, "input_size": SIZE, "rows": rows, "note": note}
    lines = [
        "# Fine-tuning schedules on small, messy data",
        "",
        f"MobileNetV3-Small at {SIZE}x{SIZE}, colour digit photos 5-9 (generated), batch 64, seed 0; "
        "test accuracy of the Keras model and of the int8 TFLite file (40 test photos per class).",
        machine_text(results["machine"]) + (f" {note}" if note else ""),
        "",
        "| train / class | source | schedule | epochs | steps | Keras test | int8 test | val | seconds |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['train_per_class']} | {r['source']} | {r['schedule']} | {r['epochs']} | {r['steps']} | "
            f"{r['keras_test']:.3f} | {r['int8_test']:.3f} | {r['val']:.3f} | {r['seconds']:.0f} |"
        )
    write_results(output, "fine_tune", results, lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--sizes", type=argparse_int(1, "--sizes"), nargs="+", default=list(SIZES))
    parser.add_argument("--source-epochs", type=argparse_int(1, "--source-epochs"), default=30)
    parser.add_argument("--from-log", metavar="LOG", help="rebuild the results from the rows an (interrupted) run printed")
    args = parser.parse_args(argv)
    if args.from_log:
        with open(args.from_log, encoding="utf-8") as file:
            rows = [ast.literal_eval(line) for line in file if line.startswith("{'train_per_class'")]
        write(rows, args.output, f"Rebuilt from the rows of a run's log ({len(rows)} rows).")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        rows = measure(folder, args.sizes, SCHEDULES, args.source_epochs)
    write(rows, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
