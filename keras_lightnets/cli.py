"""``keras-lightnets`` command line: ``list``, ``summary``, ``export``, ``bench``, ``train``,
``convert-torchvision``.

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
from keras_lightnets.convert import from_torchvision
from keras_lightnets.export import QUANTIZATIONS
from keras_lightnets.files import atomic_target, check_output_path
from keras_lightnets.latency import keras_latency
from keras_lightnets.litert import run_tflite, tflite_latency
from keras_lightnets.macs import count_macs
from keras_lightnets.registry import create_model, get_entry, list_models
from keras_lightnets.train import NonFiniteLossError, fit, load_data
from keras_lightnets.validation import argparse_int

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
    train.add_argument("--data", default="digits", help="'digits' (embedded) or an image folder with one subfolder per class")
    train.add_argument("--epochs", type=argparse_int(1, "--epochs"), default=12)
    train.add_argument("--input-size", type=argparse_int(32, "--input-size"), default=None, help="default 32 (digits) / 224 (folder)")
    train.add_argument("--batch-size", type=argparse_int(1, "--batch-size"), default=64)
    train.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--checkpoint", help="a .keras file saved every epoch and resumed from")
    train.add_argument("--log-dir", help="folder for log.csv and TensorBoard logs")
    train.add_argument("--export", metavar="FILE.tflite", help="write the trained model as TFLite")
    train.add_argument("--quantization", choices=QUANTIZATIONS, default="int8", help="for --export (default int8)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --export file")

    convert = commands.add_parser(
        "convert-torchvision", help="convert a torchvision checkpoint (.pth) to an exact .keras model"
    )
    convert.add_argument("name", help="mobilenet_v2, mobilenet_v3_large/small or shufflenet_v2_x0_5..x2_0")
    convert.add_argument("checkpoint", help="the torchvision state_dict file (.pth); reading it needs torch")
    convert.add_argument("--output", required=True, metavar="FILE.keras", help="the converted model")
    convert.add_argument(
        "--input-size", type=argparse_int(32, "--input-size"), default=None, help="square input size (default: any)"
    )
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output")

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


def _load_calibration(path: str, model: Any) -> np.ndarray:
    if path.endswith(".npy"):
        if not os.path.isfile(path):
            raise ValueError(f"--calibration file does not exist: {path!r}")
        return np.load(path)
    if not os.path.isdir(path):
        raise ValueError(f"--calibration must be a .npy file or an image folder; received {path!r}")

    height, width = model.input_shape[1:3]
    dataset = keras.utils.image_dataset_from_directory(
        path, labels=None, image_size=(height, width), batch_size=32, shuffle=False, verbose=False
    )
    images = np.concatenate([np.asarray(batch) for batch in dataset])
    return images if _expects_raw_pixels(model) else images / 127.5 - 1.0


def _summary(model: Any, args: argparse.Namespace) -> None:

    if args.plot:
        import importlib.util
        import shutil

        if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
            raise ImportError(
                "--plot needs pydot and Graphviz: pip install pydot; apt-get install graphviz"
            )
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
        calibration = _load_calibration(args.calibration, model)
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
    print(f"Keras (tf.function): {keras_ms:8.2f} ms  (median of {args.runs})")
    print(f"TFLite float32:      {tflite_ms:8.2f} ms  (median of {args.runs}, {args.threads} threads)")


def _train(args: argparse.Namespace) -> None:

    if args.export:
        check_output_path(args.export, args.overwrite, suffix=".tflite")
    size = args.input_size or (32 if args.data == "digits" else 224)
    data = load_data(args.data, size, args.batch_size)
    result = fit(
        args.name,
        data,
        args.epochs,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        checkpoint=args.checkpoint,
        log_dir=args.log_dir,
        verbose=2,
    )
    print(f"\n{args.name}: test accuracy {result.test_accuracy:.4f} after {result.epochs_run} epochs "
          f"in {result.seconds:.0f} s ({len(data.y_test)} test images, {data.num_classes} classes)")
    if not args.export:
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for quantization in export.QUANTIZATIONS:
            wanted = quantization == args.quantization
            path = args.export if wanted else os.path.join(folder, f"{quantization}.tflite")
            report = export.to_tflite(
                result.model,
                path,
                quantization,
                representative_data=data.calibration,
                overwrite=args.overwrite if wanted else False,
            )
            accuracy = float(np.mean(run_tflite(path, data.x_test).argmax(-1) == data.y_test))
            latency = tflite_latency(path, runs=20) * 1e3
            rows.append((quantization, accuracy, report.size_bytes, latency, wanted))
    print(f"\n{'file':16s} {'accuracy':>9s} {'size':>10s} {'latency':>10s}")
    print(f"{'Keras':16s} {result.test_accuracy:9.4f}")
    for quantization, accuracy, size_bytes, latency, wanted in rows:
        label = f"TFLite {quantization}" + (" *" if wanted else "")
        print(f"{label:16s} {accuracy:9.4f} {size_bytes / 1e6:8.2f} MB {latency:7.2f} ms")
    print(f"\n* written to {os.path.abspath(args.export)}")


def _convert(args: argparse.Namespace) -> None:

    path = check_output_path(args.output, args.overwrite, ".keras")
    size = args.input_size
    model = from_torchvision(args.name, args.checkpoint, input_shape=(size, size, 3))
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
    print(f"{'model':36s} {'params':>12s} {'MAdds (224)':>14s}  pretrained")
    for name in names:
        entry = get_entry(name)
        tags = ", ".join(p.tag for p in entry.pretrained)
        print(f"{name:36s} {entry.params:12,d} {entry.macs / 1e6:12.1f} M  {tags}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)

    action = {"list": _list, "train": _train, "convert-torchvision": _convert}.get(args.command, _build_and_run)
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
