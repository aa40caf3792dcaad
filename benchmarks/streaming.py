"""``python -m benchmarks.streaming``: does training on an image folder stream, and is the input pipeline fast enough?

1. Generates two folders of JPEG "photos" (2,000 and 20,000 images, 3 classes, mixed sizes).
2. Runs ``keras-lightnets train`` on each in a child process (one epoch) and records the
   child's peak resident memory: a streaming pipeline costs about the same on both; an
   in-memory one would cost ~10x more on the larger folder.
3. Times the input pipeline alone (images/s out of ``Data.train``) against the training
   step alone (images/s of ``train_on_batch`` on one cached batch) in this process.

Writes ``benchmarks/results/streaming.md`` and ``streaming.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np
from PIL import Image

from keras_lightnets.data import image_folder
from keras_lightnets.files import atomic_target
from keras_lightnets.registry import create_model
from keras_lightnets.validation import argparse_int


def make_folder(root: str, count: int, seed: int = 0) -> str:
    """``count`` JPEGs of 3 colour classes, sides 96-160 px, under ``root``."""
    rng = np.random.default_rng(seed)
    colours = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    for name in colours:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for index in range(count):
        name = list(colours)[index % 3]
        size = (int(rng.integers(96, 161)), int(rng.integers(96, 161)))
        pixels = np.clip(np.array(colours[name]) + rng.normal(0, 30, (*size, 3)), 0, 255).astype("uint8")
        Image.fromarray(pixels).save(os.path.join(root, name, f"{index}.jpg"), quality=85)
    return root


def peak_rss_of_train(folder: str, input_size: int, batch: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one ``keras-lightnets train`` epoch on ``folder`` in its own process."""
    argv = [
        "train", "mobilenet_v3_small", "--data", folder, "--input-size", str(input_size),
        "--batch-size", str(batch), "--epochs", "1",
    ]
    script = (
        "import resource, sys\n"
        "from keras_lightnets.cli import main\n"
        f"code = main({argv!r})\n"
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(code)\n"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("PEAK_KB")]
    return int(line.split()[1]) / 1024, seconds


def throughput(folder: str, input_size: int, batch: int, batches: int) -> dict[str, float]:
    """Images/s of the input pipeline alone and of the training step alone."""
    data = image_folder(folder, input_size=input_size, batch_size=batch)
    iterator = iter(data.train.repeat())
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        images, labels = next(iterator)
    pipeline = batches * batch / (time.perf_counter() - start)
    model = create_model("mobilenet_v3_small", input_shape=data.input_shape, classes=data.num_classes)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = np.asarray(images), np.asarray(labels)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(batches):
        model.train_on_batch(x, y)
    step = batches * batch / (time.perf_counter() - start)
    return {"pipeline_images_per_s": pipeline, "train_step_images_per_s": step, "ratio": pipeline / step}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the streaming benchmark; write the report; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__)
    parser.add_argument("--small", type=argparse_int(10, "--small"), default=2000, help="images in the small folder")
    parser.add_argument("--large", type=argparse_int(10, "--large"), default=20000, help="images in the large folder")
    parser.add_argument("--input-size", type=argparse_int(32, "--input-size"), default=96)
    parser.add_argument("--batch", type=argparse_int(1, "--batch"), default=64)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": vars(args),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as root:
        for count in (args.small, args.large):
            folder = make_folder(os.path.join(root, f"photos_{count}"), count)
            peak_mb, seconds = peak_rss_of_train(folder, args.input_size, args.batch)
            results["runs"][str(count)] = {"peak_rss_mb": peak_mb, "seconds": seconds}
            print(f"{count} images: peak RSS {peak_mb:.0f} MB, {seconds:.0f} s", file=sys.stderr, flush=True)
        results["throughput"] = throughput(folder, args.input_size, args.batch, batches=20)
    small, large = results["runs"][str(args.small)], results["runs"][str(args.large)]
    results["memory_ratio"] = large["peak_rss_mb"] / small["peak_rss_mb"]
    t = results["throughput"]
    lines = [
        "# Streaming an image folder (keras-lightnets train, MobileNetV3-Small, one epoch)",
        "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cpus']} CPUs, flags "
        f"{' '.join(results['machine']['flags']) or 'unknown'}; input {args.input_size}x{args.input_size}, batch {args.batch}.",
        "",
        "| images | peak RSS (MB) | seconds |",
        "|---:|---:|---:|",
        *(f"| {count} | {run['peak_rss_mb']:.0f} | {run['seconds']:.0f} |" for count, run in results["runs"].items()),
        "",
        f"Memory {args.large} / {args.small} images: **{results['memory_ratio']:.2f}x** (target < 10x: an in-memory "
        "folder would grow with the image count).",
        "",
        f"Input pipeline {t['pipeline_images_per_s']:.0f} images/s against the training step's "
        f"{t['train_step_images_per_s']:.0f} images/s (ratio {t['ratio']:.2f}; above 1 the pipeline keeps up).",
    ]
    write_results(args.output, "streaming", results, lines)
    return 0


def write_results(folder: str, stem: str, results: dict[str, Any], lines: list[str]) -> None:
    """Write ``stem.json`` (the figures) and ``stem.md`` (the table ``lines``) into ``folder``, atomically; print the table."""
    os.makedirs(folder, exist_ok=True)
    with atomic_target(os.path.join(folder, f"{stem}.json")) as target, open(target, "w") as file:
        json.dump(results, file, indent=1)
    with atomic_target(os.path.join(folder, f"{stem}.md")) as target, open(target, "w") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def machine() -> dict[str, Any]:
    """This machine for a results file: CPU model, core count, platform and vector flags."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "cpu": _cpu_model(), "flags": cpu_flags()}


def machine_text(figures: dict[str, Any]) -> str:
    """The machine of :func:`machine` in one sentence for a results file."""
    return f"Machine: {figures['cpu']}, {figures['cpus']} CPUs, flags {' '.join(figures['flags']) or 'unknown'}."


def cpu_flags() -> list[str]:
    """The vector-instruction flags of this CPU that matter for the kernels (from /proc/cpuinfo)."""
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_tile")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in present]
    except OSError:
        pass
    return []


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
