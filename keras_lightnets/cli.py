"""``keras-lightnets`` command line: ``list`` and ``summary``.

Exit codes: 0 success, 2 bad arguments (unknown model, bad size).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _positive_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input-size must be an integer; received {text!r}") from None
    if value < 32:
        raise argparse.ArgumentTypeError(f"--input-size must be >= 32; received {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-lightnets",
        description="Exact lightweight ConvNets for Keras 3 (MobileNetV1/V2/V3).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every registered model with params and MAdds at 224")
    summary = commands.add_parser("summary", help="Keras summary, params and MAdds of a model")
    summary.add_argument("name", help="a registered model name (see `list`)")
    summary.add_argument("--input-size", type=_positive_size, default=224, help="square input size (>= 32)")
    summary.add_argument("--classes", type=int, default=1000, help="classifier outputs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from keras_lightnets.macs import count_macs
    from keras_lightnets.registry import create_model, list_models

    if args.command == "list":
        print(f"{'model':36s} {'params':>12s} {'MAdds (224)':>14s}")
        for name in list_models():
            model = create_model(name, input_shape=(224, 224, 3))
            print(f"{name:36s} {model.count_params():12,d} {count_macs(model) / 1e6:12.1f} M")
        return 0
    try:
        model = create_model(
            args.name, input_shape=(args.input_size, args.input_size, 3), classes=args.classes
        )
    except (ValueError, TypeError) as error:
        print(f"keras-lightnets: error: {error}", file=sys.stderr)
        return 2
    model.summary(line_length=110)
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    print(f"model:            {args.name} at {args.input_size}x{args.input_size}")
    print(f"params (Keras):   {model.count_params():,d}")
    print(f"params trainable: {trainable:,d}")
    print(f"MAdds:            {count_macs(model) / 1e6:.1f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
