"""``python -m benchmarks.qat``: post-training int8 against quantization-aware training, measured.

Classifiers train on the digits (32x32, the CI data) for ``--epochs`` (few: briefly trained
models are where post-training int8 is weakest), then:

- **PTQ**: the float model's int8 file, ranges calibrated on 100 training images, with float
  input/output and with ``int8_io=True`` (int8 input and output tensors);
- **QAT**: ``fit(float_model, epochs=0, qat_epochs=Q)`` (the trainer's quantization-aware phase
  at its default, 1 % of the float learning rate), its int8 file from the learned ranges, both IO kinds.

One SSDLite (MobileNetV3-Small, 160x160, two extra blocks) trains on generated COCO photos for
``--detector-epochs`` (12: where post-training int8 lost 3.5 AP50 points) and is scored with
pycocotools the same way. Every figure is on the test split, each file evaluated once; no
choice is made on it. Writes ``benchmarks/results/qat.md`` and ``qat.json`` after each model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Sequence

import keras
import numpy as np

from benchmarks.streaming import machine, machine_text, previous_rows, write_results
from keras_lightnets.data import digits
from keras_lightnets.detection import coco_evaluate, detection_folder
from keras_lightnets.detection.evaluate import detect_batches, tflite_detections
from keras_lightnets.export import to_tflite
from keras_lightnets.litert import run_tflite
from keras_lightnets.synthetic import detection_photos
from keras_lightnets.train import fit
from keras_lightnets.validation import argparse_int

CLASSIFIERS = ("mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "shufflenet_v2_x1_0")
DETECTOR = "ssdlite_mobilenet_v3_small"
DETECTOR_SIZE, DETECTOR_COUNTS = 160, {"train": 160, "val": 30, "test": 40}


def _copy(model: keras.Model, folder: str) -> keras.Model:
    """An independent copy (through a .keras file: class names, task and feature maps kept)."""
    path = os.path.join(folder, f"{model.name}_float.keras")
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _accuracy(path: str, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(run_tflite(path, images).argmax(-1) == labels))


def classifier_row(name: str, epochs: int, qat_epochs: int, folder: str, seed: int | None = None) -> dict[str, Any]:
    """Float, PTQ and QAT test accuracies (float and int8 IO) of one classifier on the digits.

    ``seed``: the training seed, recorded in the row; None trains with ``fit``'s default and records none.
    """
    data = digits(input_size=32)  # one split: the seeds vary the training only
    images, labels = data.arrays("test")
    start = time.perf_counter()
    seeded = {} if seed is None else {"seed": seed}
    trained = fit(name, data, epochs=epochs, verbose=0, **seeded)
    row: dict[str, Any] = {"model": name, "task": "digits", "metric": "accuracy", "epochs": epochs,
                           "qat_epochs": qat_epochs, **seeded, "float": trained.test_accuracy}
    for int8_io in (False, True):
        path = os.path.join(folder, f"{name}_ptq_{int8_io}.tflite")
        to_tflite(trained.model, path, "int8", data.calibration, num_calibration=100, int8_io=int8_io, overwrite=True)
        row["ptq_int8_io" if int8_io else "ptq"] = _accuracy(path, images, labels)
    qat = fit(_copy(trained.model, folder), data, epochs=0, qat_epochs=qat_epochs, verbose=0, **seeded)
    row["qat_keras"] = qat.test_accuracy
    for int8_io in (False, True):
        path = os.path.join(folder, f"{name}_qat_{int8_io}.tflite")
        to_tflite(qat.model, path, "int8", int8_io=int8_io, overwrite=True)
        row["qat_int8_io" if int8_io else "qat"] = _accuracy(path, images, labels)
    row["seconds"] = time.perf_counter() - start
    return row


def detector_row(epochs: int, qat_epochs: int, folder: str) -> dict[str, Any]:
    """Float, PTQ and QAT test AP50 (and mAP) of the generated-photos SSDLite."""
    root = detection_photos(os.path.join(folder, "boxes"), "coco", counts=DETECTOR_COUNTS, size_range=(128, 200), seed=1)
    data = detection_folder(root, input_size=DETECTOR_SIZE, batch_size=16)
    start = time.perf_counter()
    trained = fit(DETECTOR, data, epochs=epochs, learning_rate=1e-2, extra_filters=(256, 128), verbose=0)
    figures = {"float": coco_evaluate(*detect_batches(trained.model, data.test), data.class_names)}
    ptq = os.path.join(folder, "detector_ptq.tflite")
    to_tflite(trained.model, ptq, "int8", data.calibration, num_calibration=len(data.calibration), overwrite=True)
    figures["ptq"] = coco_evaluate(*tflite_detections(ptq, data.test), data.class_names)
    qat = fit(_copy(trained.model, folder), data, epochs=0, qat_epochs=qat_epochs, verbose=0)
    figures["qat_keras"] = coco_evaluate(*detect_batches(qat.model, data.test), data.class_names)
    path = os.path.join(folder, "detector_qat.tflite")
    to_tflite(qat.model, path, "int8", overwrite=True)
    figures["qat"] = coco_evaluate(*tflite_detections(path, data.test), data.class_names)
    row: dict[str, Any] = {"model": DETECTOR, "task": "shapes (COCO)", "metric": "AP50", "epochs": epochs,
                           "qat_epochs": qat_epochs, "seconds": time.perf_counter() - start}
    row.update({key: report.ap50 for key, report in figures.items()})
    row.update({f"{key}_map": report.map for key, report in figures.items()})
    return row


def _cell(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "—"


def _label(row: dict[str, Any]) -> str:
    return f"`{row['model']}`" + (f" (seed {row['seed']})" if "seed" in row else "")


def seed_summaries(rows: list[dict[str, Any]]) -> list[str]:
    """One line per model and schedule measured with several seeds: QAT int8 - PTQ int8, mean and spread.

    Examples:
        >>> seed_summaries([{"model": "m", "epochs": 1, "qat_epochs": 1, "seed": s, "ptq": 0.9, "qat": q}
        ...                 for s, q in enumerate((0.91, 0.89, 0.90))])
        ['`m` (1 + 1 epochs), 3 seeds: QAT int8 - PTQ int8 = +0.00 points on average (standard deviation 1.00; from -1.0 to +1.0)']
    """
    groups: dict[tuple[str, int, int], list[float]] = {}
    for row in rows:
        if "seed" in row:
            groups.setdefault((row["model"], row["epochs"], row["qat_epochs"]), []).append(100 * (row["qat"] - row["ptq"]))
    return [
        f"`{model}` ({epochs} + {qat_epochs} epochs), {len(gaps)} seeds: QAT int8 - PTQ int8 = {np.mean(gaps):+.2f} points "
        f"on average (standard deviation {np.std(gaps, ddof=1):.2f}; from {min(gaps):+.1f} to {max(gaps):+.1f})"
        for (model, epochs, qat_epochs), gaps in groups.items() if len(gaps) > 1
    ]


def write(output: str, results: dict[str, Any]) -> None:
    """The table of rows measured so far (QAT - PTQ in points of the metric)."""
    rows = results["rows"]
    lines = [
        "# Post-training int8 (PTQ) against quantization-aware training (QAT)",
        "",
        machine_text(results["machine"]) + " Test-split figures, each file evaluated once. PTQ: the float model's "
        "int8 file calibrated on 100 training images (the detector: its calibration split). QAT: the trainer's "
        "quantization-aware epochs on the float model (`fit(model, epochs=0, qat_epochs=Q)`, 1 % of the float "
        "learning rate, BatchNorm statistics frozen for the second half), int8 file from the learned ranges. "
        "int8 IO: `int8_io=True` files. QAT's epochs are extra epochs: where PTQ loses nothing (every classifier "
        "here), its gains are those of the extra training and re-estimated BatchNorm statistics, not of int8.",
        "",
        "| model | data | metric | float epochs | QAT epochs | float | PTQ int8 | QAT Keras | QAT int8 | QAT - PTQ (points) "
        "| PTQ int8 IO | QAT int8 IO | minutes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {_label(r)} | {r['task']} | {r['metric']} | {r['epochs']} | {r['qat_epochs']} | {_cell(r, 'float')} | "
            f"{_cell(r, 'ptq')} | {_cell(r, 'qat_keras')} | {_cell(r, 'qat')} | {100 * (r['qat'] - r['ptq']):+.1f} | "
            f"{_cell(r, 'ptq_int8_io')} | {_cell(r, 'qat_int8_io')} | {r['seconds'] / 60:.1f} |"
            for r in rows
        ),
    ]
    summaries = seed_summaries(rows)
    if summaries:
        lines += ["", "Over seeds (each seed trains the float model, calibrates and runs QAT anew):", "",
                  *(f"- {line}" for line in summaries)]
    write_results(output, "qat", results, lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the PTQ / QAT comparison; write the report after each model; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.qat", description=__doc__)
    parser.add_argument("--models", nargs="*", choices=CLASSIFIERS, default=list(CLASSIFIERS))
    parser.add_argument("--epochs", type=argparse_int(1, "--epochs"), default=4, help="float epochs of the classifiers")
    parser.add_argument("--qat-epochs", type=argparse_int(1, "--qat-epochs"), default=2)
    parser.add_argument("--detector-epochs", type=argparse_int(0, "--detector-epochs"), default=12, help="0: no detector")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"))
    parser.add_argument("--append", action="store_true", help="keep the rows of OUTPUT/qat.json (same machine only)")
    parser.add_argument("--seeds", type=argparse_int(0, "--seeds"), default=0,
                        help="N > 0: train each classifier with seeds 0..N-1 and summarise QAT - PTQ over them")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine(), "settings": vars(args), "rows": []}
    if args.append:
        results["rows"] = previous_rows(parser, args.output, "qat", results["machine"])
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            for seed in range(args.seeds) if args.seeds else [None]:
                row = classifier_row(name, args.epochs, args.qat_epochs, folder, seed=seed)
                results["rows"].append(row)
                print(row, file=sys.stderr, flush=True)
                write(args.output, results)
        if args.detector_epochs:
            results["rows"].append(detector_row(args.detector_epochs, args.qat_epochs, folder))
            print(results["rows"][-1], file=sys.stderr, flush=True)
            write(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
