"""``keras-lightnets`` command line: ``list``, ``summary``, ``export``, ``bench``, ``train``,
``convert-torchvision``, ``convert-timm``.

Exit codes: 0 success, 1 training stopped on a NaN/inf loss, 2 bad arguments
or a missing optional dependency (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Sequence

import keras
import numpy as np

from keras_lightnets import export
from keras_lightnets.convert import from_timm, from_torchvision
from keras_lightnets.export import QUANTIZATIONS
from keras_lightnets.files import atomic_target, check_output_path
from keras_lightnets.latency import keras_latency
from keras_lightnets.litert import tflite_latency
from keras_lightnets.macs import count_macs
from keras_lightnets.registry import create_model, get_entry, list_models
from keras_lightnets.data import load_images
from keras_lightnets.predict import (
    detect_images, draw_detections, is_detector, is_segmenter, predict_images, segment_images, write_mask,
)
from keras_lightnets.tasks import task_for
from keras_lightnets.train import (
    NonFiniteLossError, TrainConfig, export_and_compare, export_table, fit, load_data, write_plots,
)
from keras_lightnets.validation import argparse_fraction, argparse_int, require_extra

EXPORT_FORMATS = ("tflite", "saved_model", "onnx")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-lightnets",
        description="Exact lightweight ConvNets for Keras 3: build, inspect, export to TFLite, time.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every registered model with params, MAdds at 224 and checkpoints")
    listing.add_argument("--pretrained", action="store_true", help="only models with a published checkpoint")

    def model_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("name", help="a registered model name (see `list`)")
        command.add_argument(
            "--input-size", type=argparse_int(32, "--input-size"), default=224, help="square input size (>= 32)"
        )
        command.add_argument("--classes", type=argparse_int(1, "--classes"), default=1000, help="classifier outputs")
        return command

    summary = model_command("summary", "Keras summary, params and MAdds of a model")
    summary.add_argument("--plot", metavar="FILE.png", help="also draw the architecture (needs pydot + graphviz)")

    export = model_command("export", "export a model to TFLite, SavedModel or ONNX")
    export.add_argument("--output", required=True, help="output file (.tflite / .onnx) or SavedModel folder")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="tflite")
    export.add_argument("--quantization", choices=QUANTIZATIONS, default="float32")
    export.add_argument("--weights", help="weights file to load (.weights.h5, .h5, .keras)")
    export.add_argument(
        "--calibration",
        help="int8 calibration images: a .npy array (N, H, W, C) as the model expects, or an image folder",
    )
    export.add_argument(
        "--num-calibration", type=argparse_int(1, "--num-calibration"), default=100, help="calibration images"
    )
    export.add_argument("--int8-io", action="store_true", help="int8 input and output tensors too")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output")

    train = commands.add_parser("train", help="train on the digits or an image folder, evaluate, export")
    train.add_argument("name", help="a registered model name (see `list`)")
    train.add_argument(
        "--data", default="digits",
        help="'digits' (embedded) or an image folder: one subfolder per class, or train/ val/ test/ each with them",
    )
    train.add_argument("--weights", help="'imagenet' or a .keras / .weights.h5 / .h5 file of this architecture (any classes)")
    train.add_argument(
        "--freeze-epochs", type=argparse_int(0, "--freeze-epochs"), default=None,
        help="with --weights: epochs training only the new classifier (default: derived, printed)",
    )
    train.add_argument("--unfreeze-from", help="with --weights: first block trained in phase 2, e.g. block_8 (default all)")
    train.add_argument("--val-fraction", type=argparse_fraction("--val-fraction"), default=None, help="default 0.15 / 0.1")
    train.add_argument("--test-fraction", type=argparse_fraction("--test-fraction"), default=None, help="default 0.25 / 0.2")
    train.add_argument("--early-stopping", type=argparse_int(1, "--early-stopping"), default=None,
                       help="patience in epochs on validation accuracy (restores the best epoch)")
    train.add_argument("--no-flip", action="store_true", help="no horizontal flips (text, digits, asymmetric classes)")
    train.add_argument("--verbose", action="store_true", help="Keras progress bars per batch (C++ logs: TF_CPP_MIN_LOG_LEVEL=0)")
    train.add_argument("--strict", action="store_true", help="classification: refuse a folder with unreadable images instead of skipping them")
    train.add_argument("--resize-masks", action="store_true", help="segmentation: resize a mask whose size differs from its image's instead of refusing it")
    train.add_argument("--epochs", type=argparse_int(1, "--epochs"), default=None,
                       help="total epochs (default: derived from the data size so that each phase gets enough steps; printed)")
    train.add_argument("--input-size", type=argparse_int(32, "--input-size"), default=None, help="default 32 (digits) / 224 (folder) / 320 (detectors) / 512 (segmenters)")
    train.add_argument("--batch-size", type=argparse_int(1, "--batch-size"), default=64)
    train.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="peak learning rate (default 3e-3 from scratch, 1e-2 for the new head with --weights; AdamW)")
    train.add_argument("--checkpoint", help="a .keras file saved every epoch and resumed from")
    train.add_argument("--log-dir", help="folder for log.csv, TensorBoard, splits.json, confusion.png, curves.png")
    train.add_argument("--qat-epochs", type=argparse_int(1, "--qat-epochs"), default=0,
                       help="quantization-aware epochs after the float ones (the int8 file then takes their learned ranges)")
    train.add_argument("--export", metavar="FILE.tflite", help="write the trained model as TFLite")
    train.add_argument("--quantization", choices=QUANTIZATIONS, default="int8", help="for --export (default int8)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --export file")

    for source, names in (
        ("torchvision", "mobilenet_v2, mobilenet_v3_large/small or shufflenet_v2_x0_5..x2_0"),
        ("timm", "mobilenetv4_conv_small/medium/large, mobilenetv4_hybrid_medium/large, mobilenetv3_large/small_100"),
    ):
        convert = commands.add_parser(
            f"convert-{source}", help=f"convert a {source} checkpoint (.pth) to an exact .keras model"
        )
        convert.add_argument("name", help=names)
        convert.add_argument("checkpoint", help=f"the {source} state_dict file (.pth); reading it needs torch")
        convert.add_argument("--output", required=True, metavar="FILE.keras", help="the converted model")
        convert.add_argument(
            "--input-size", type=argparse_int(32, "--input-size"), default=None, help="square input size (default: any)"
        )
        convert.add_argument("--overwrite", action="store_true", help="replace an existing output")

    predict = commands.add_parser(
        "predict", help="classify images, find objects (detectors) or label pixels (segmenters) with a .keras or .tflite model"
    )
    predict.add_argument("model", help="a .keras or .tflite file")
    predict.add_argument("images", nargs="+", help="image files and/or folders of images")
    predict.add_argument("--top", type=argparse_int(1, "--top"), default=5, help="classes per image")
    predict.add_argument("--input-size", type=argparse_int(32, "--input-size"), default=224, help="for models of any size")
    predict.add_argument("--score", type=float, default=0.3, help="detectors: lowest score shown, in [0, 1) (default 0.3)")
    predict.add_argument("--draw", metavar="FOLDER", help="detectors: write each image with its boxes into FOLDER")
    predict.add_argument("--masks", metavar="FOLDER", help="segmenters: write each image's mask PNG and overlay into FOLDER")

    bench = model_command("bench", "Keras and TFLite float32 latency on this machine (median)")
    bench.add_argument("--runs", type=argparse_int(1, "--runs"), default=30, help="timed runs (>= 1)")
    bench.add_argument("--threads", type=argparse_int(1, "--threads"), default=2, help="TFLite threads")
    return parser


def _expects_raw_pixels(model: Any) -> bool:

    return any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)


def _check_images(model: Any, count: int) -> np.ndarray:
    """Random images in the range the model expects ([0, 255] or [-1, 1])."""
    rng = np.random.default_rng(0)
    low, high = (0.0, 255.0) if _expects_raw_pixels(model) else (-1.0, 1.0)
    return rng.uniform(low, high, (count, *model.input_shape[1:])).astype(np.float32)


def _load_calibration(path: str, model: Any, limit: int | None = None) -> np.ndarray:
    if path.endswith(".npy"):
        if not os.path.isfile(path):
            raise ValueError(f"--calibration file does not exist: {path!r}")
        return np.load(path)
    if not os.path.isdir(path):
        raise ValueError(f"--calibration must be a .npy file or an image folder; received {path!r}")

    images = load_images(path, tuple(model.input_shape[1:3]), limit=limit, progress=True)  # training's loading path
    return images if _expects_raw_pixels(model) else images / 127.5 - 1.0


def _summary(model: Any, args: argparse.Namespace) -> None:

    if args.plot:
        import shutil

        require_extra("plot", "--plot", modules=["pydot"])
        if shutil.which("dot") is None:
            raise ImportError("--plot needs Graphviz's dot program: apt-get install graphviz")
    model.summary(line_length=110)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"model:            {args.name} at {args.input_size}x{args.input_size}")
    print(f"params (Keras):   {model.count_params():,d}")
    print(f"params trainable: {trainable:,d}")
    print(f"MAdds:            {count_macs(model) / 1e6:.1f} M")
    if args.plot:
        path = check_output_path(args.plot, overwrite=True, suffix=".png")
        with atomic_target(path) as target:
            keras.utils.plot_model(model, to_file=target, show_shapes=True, dpi=72)
        print(f"diagram:          {path}")


def _export(model: Any, args: argparse.Namespace) -> None:

    if args.format != "tflite" and (args.quantization != "float32" or args.int8_io or args.calibration):
        raise ValueError("--quantization, --int8-io and --calibration apply to --format tflite only")
    if args.format == "saved_model":
        print(f"SavedModel written to {export.to_saved_model(model, args.output, overwrite=args.overwrite)}")
        return
    if args.format == "onnx":
        print(f"ONNX file written to {export.to_onnx(model, args.output, overwrite=args.overwrite)}")
        return
    calibration = None
    if args.quantization == "int8":
        if not args.calibration:
            raise ValueError("--quantization int8 needs --calibration (a .npy array or an image folder)")
        calibration = _load_calibration(args.calibration, model, args.num_calibration)
    check = calibration[:16] if calibration is not None else _check_images(model, 8)
    report = export.to_tflite(
        model,
        args.output,
        args.quantization,
        representative_data=calibration,
        num_calibration=args.num_calibration,
        int8_io=args.int8_io,
        overwrite=args.overwrite,
        progress=True,
        check_data=check,
    )
    print(report.summary())


def _bench(model: Any, args: argparse.Namespace) -> None:

    x = _check_images(model, 1)
    keras_ms = keras_latency(model, x, runs=args.runs) * 1e3
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        export.to_tflite(model, path)
        tflite_ms = tflite_latency(path, runs=args.runs, num_threads=args.threads) * 1e3
    print(f"model:           {args.name} at {args.input_size}x{args.input_size}, batch 1")
    print(f"Keras ({keras.backend.backend():10s}): {keras_ms:8.2f} ms  (median of {args.runs})")
    print(f"TFLite float32:      {tflite_ms:8.2f} ms  (median of {args.runs}, {args.threads} threads)")


def _train(args: argparse.Namespace) -> None:
    if args.export:
        check_output_path(args.export, args.overwrite, suffix=".tflite")
    task = task_for(args.name)
    size = args.input_size or (32 if args.data == "digits" else {"detection": 320, "segmentation": 512}.get(task.name, 224))
    options: dict[str, Any] = dict(
        epochs=args.epochs, weights=args.weights, freeze_epochs=args.freeze_epochs, unfreeze_from=args.unfreeze_from,
        input_size=size, batch_size=args.batch_size, optimizer=args.optimizer, learning_rate=args.learning_rate,
        checkpoint=args.checkpoint, early_stopping_patience=args.early_stopping, log_dir=args.log_dir,
        verbose=1 if args.verbose else 2, qat_epochs=args.qat_epochs,
    )
    if args.qat_epochs and args.export and args.quantization != "int8":
        raise ValueError(f"--qat-epochs trains for an int8 file; --quantization is {args.quantization!r}")
    TrainConfig(**options).check_for(args.name, {})  # every argument, before the folder is scanned
    splits = {key: value for key in ("val_fraction", "test_fraction") if (value := getattr(args, key)) is not None}
    if args.data != "digits":  # detection and mask folders refuse annotation problems
        splits.update(flip=not args.no_flip, **{
            "classification": {"strict": args.strict}, "segmentation": {"resize_masks": args.resize_masks},
        }.get(task.name, {}))
    data = load_data(args.data, size, args.batch_size, progress=True, task=task, **splits)
    result = fit(args.name, data, **options)
    figure = result.test_metrics[task.metric]
    print(f"\n{args.name}: validation {task.metric} {result.val_metrics[task.metric]:.4f}, test {task.metric} {figure:.4f} "
          f"after {result.epochs_run} epochs in {result.seconds:.0f} s "
          f"({data.counts['train']} / {data.counts['val']} / {data.counts['test']} train / val / test images, "
          f"{data.num_classes} classes)")
    print("\n" + task.report(result.model, data, args.log_dir))
    if args.log_dir:
        print(f"training curves:  {write_plots(result, args.log_dir)}")
    if args.export:
        rows = export_and_compare(result.model, data, args.export, args.quantization, overwrite=args.overwrite, task=task)
        print("\n" + export_table(rows, figure, task.metric))
        print(f"\n* written to {os.path.abspath(args.export)} (class names: {export.labels_path(os.path.abspath(args.export))})")


def _predict(args: argparse.Namespace) -> None:
    if is_segmenter(args.model):
        if args.draw:
            raise ValueError("--draw applies to detectors; the model is a segmenter (use --masks FOLDER)")
        for found in segment_images(args.model, args.images):
            print(found.path + "\t" + ", ".join(f"{name} {share:.1%}" for name, share in found.shares()))
            if args.masks:
                print("  written: " + ", ".join(write_mask(found, args.masks)))
        return
    if args.masks:
        raise ValueError("--masks applies to segmenters; the model is not one")
    if is_detector(args.model):
        for found in detect_images(args.model, args.images, score_threshold=args.score):
            for detection in found.detections:
                box = ", ".join(f"{v:.1f}" for v in detection.box)
                print(f"{found.path}\t{detection.label}\t{detection.score:.3f}\t[{box}]")
            if args.draw:
                print(f"drawn: {draw_detections(found, args.draw)}")
        return
    if args.draw:
        raise ValueError("--draw applies to detectors; the model is a classifier")
    for prediction in predict_images(args.model, args.images, top=args.top, input_size=args.input_size):
        print(prediction.path)
        for name, probability in prediction.classes:
            print(f"  {probability:7.2%}  {name}")


def _convert(args: argparse.Namespace) -> None:

    path = check_output_path(args.output, args.overwrite, ".keras")
    size = args.input_size
    convert = from_timm if args.command == "convert-timm" else from_torchvision
    model = convert(args.name, args.checkpoint, input_shape=(size, size, 3))
    with atomic_target(path) as target:
        model.save(target)
    print(f"{args.name}: {model.count_params():,d} parameters, {model.output_shape[-1]} classes -> {path}")


def _build_and_run(args: argparse.Namespace) -> None:

    kwargs: dict[str, Any] = {"input_shape": (args.input_size, args.input_size, 3), "classes": args.classes}
    if getattr(args, "weights", None):
        kwargs["weights"] = args.weights
    model = create_model(args.name, **kwargs)
    {"summary": _summary, "export": _export, "bench": _bench}[args.command](model, args)


def _list(args: argparse.Namespace) -> None:
    names = list_models(pretrained=args.pretrained)
    print(f"{'model':36s} {'params':>12s} {'MAdds':>14s}  {'task (input)':22s} pretrained")
    for name in names:
        entry = get_entry(name)
        tags = ", ".join(p.tag for p in entry.pretrained)
        task = f"{entry.task} ({ {'detection': 320, 'segmentation': 512}.get(entry.task, 224)})"
        print(f"{name:36s} {entry.params:12,d} {entry.macs / 1e6:12.1f} M  {task:22s} {tags}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)

    action = {"list": _list, "train": _train, "convert-torchvision": _convert, "convert-timm": _convert, "predict": _predict}.get(
        args.command, _build_and_run
    )
    try:
        action(args)
    except (ValueError, TypeError, FileExistsError, ImportError) as error:
        print(f"keras-lightnets: error: {error}", file=sys.stderr)
        return 2
    except NonFiniteLossError as error:
        print(f"keras-lightnets: training stopped: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
