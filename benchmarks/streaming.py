"""``python -m benchmarks.streaming``: does training on a folder stream, and is the input pipeline fast enough?

1. Generates two folders (2,000 and 20,000 images, mixed sizes): with ``--task
   classification`` JPEG "photos" of 3 colour classes in class folders; with ``--task
   detection`` labelled shape photos in the COCO layout (several boxes each, 80/10/10 split).
2. Runs ``keras-lightnets train`` on each in a child process (one epoch; MobileNetV3-Small,
   or its SSDLite) and records the child's peak resident memory: a streaming pipeline costs
   about the same on both; an in-memory one would cost ~10x more on the larger folder.
3. Times the input pipeline alone (images/s out of ``Data.train`` as the task prepares it)
   against the training step alone (images/s of ``train_on_batch`` on one cached batch).

Writes ``benchmarks/results/streaming.md`` and ``streaming.json`` (classification) or
``streaming_detection.md`` / ``.json``.
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

from keras_lightnets.files import atomic_target
from keras_lightnets.synthetic import detection_photos
from keras_lightnets.tasks import task_for
from keras_lightnets.validation import argparse_int

#: The model each task's run trains, and the result files' stem.
MODELS = {"classification": "mobilenet_v3_small", "detection": "ssdlite_mobilenet_v3_small"}
STEMS = {"classification": "streaming", "detection": "streaming_detection"}


def make_folder(root: str, count: int, seed: int = 0, task: str = "classification") -> str:
    """``count`` images under ``root``, sides 96-160 px: class folders of 3 colours, or a COCO detection folder."""
    if task == "detection":
        val = max(1, count // 10)
        counts = {"train": count - 2 * val, "val": val, "test": val}
        return detection_photos(root, "coco", counts=counts, size_range=(96, 160), seed=seed)
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


def peak_rss_of_train(model: str, folder: str, input_size: int, batch: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one ``keras-lightnets train MODEL`` epoch on ``folder`` in its own process."""
    argv = [
        "train", model, "--data", folder, "--input-size", str(input_size),
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
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"keras-lightnets {' '.join(argv)} exited with {done.returncode}:\n{done.stderr[-2000:]}")
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("PEAK_KB")]
    return int(line.split()[1]) / 1024, seconds


def throughput(model_name: str, folder: str, input_size: int, batch: int, batches: int) -> dict[str, float]:
    """Images/s of the input pipeline alone (the training split as the task prepares it) and of the training step alone."""
    task = task_for(model_name)
    data = task.load_folder(folder, input_size, batch, 0)
    iterator = iter(task.prepare(data.train, data).repeat())
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        images, targets = next(iterator)
    pipeline = batches * batch / (time.perf_counter() - start)
    model = task.build(model_name, data)
    model.compile("adam", task.loss(0.0, model))
    x = np.asarray(images)
    y = {k: np.asarray(v) for k, v in targets.items()} if isinstance(targets, dict) else np.asarray(targets)
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
    parser.add_argument("--task", choices=sorted(MODELS), default="classification")
    parser.add_argument("--input-size", type=argparse_int(32, "--input-size"), default=None,
                        help="model input side (default 96 for classification, 320 for detection)")
    parser.add_argument("--batch", type=argparse_int(1, "--batch"), default=64)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"))
    args = parser.parse_args(argv)
    if args.input_size is None:
        args.input_size = 320 if args.task == "detection" else 96
    model = MODELS[args.task]
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": vars(args),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as root:
        for count in (args.small, args.large):
            folder = make_folder(os.path.join(root, f"photos_{count}"), count, task=args.task)
            peak_mb, seconds = peak_rss_of_train(model, folder, args.input_size, args.batch)
            results["runs"][str(count)] = {"peak_rss_mb": peak_mb, "seconds": seconds}
            print(f"{count} images: peak RSS {peak_mb:.0f} MB, {seconds:.0f} s", file=sys.stderr, flush=True)
        results["throughput"] = throughput(model, folder, args.input_size, args.batch, batches=20)
    small, large = results["runs"][str(args.small)], results["runs"][str(args.large)]
    results["memory_ratio"] = large["peak_rss_mb"] / small["peak_rss_mb"]
    t = results["throughput"]
    lines = [
        f"# Streaming a {args.task} folder (keras-lightnets train {model}, one epoch)",
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
    write_results(args.output, STEMS[args.task], results, lines)
    return 0


def write_results(folder: str, stem: str, results: dict[str, Any], lines: list[str]) -> None:
    """Write ``stem.json`` (the figures) and ``stem.md`` (the table ``lines``) into ``folder``, atomically; print the table."""
    os.makedirs(folder, exist_ok=True)
    with atomic_target(os.path.join(folder, f"{stem}.json")) as target, open(target, "w") as file:
        json.dump(results, file, indent=1)
    with atomic_target(os.path.join(folder, f"{stem}.md")) as target, open(target, "w") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def previous_rows(parser: argparse.ArgumentParser, output: str, stem: str, this_machine: dict[str, Any]) -> list[Any]:
    """The rows of ``output/stem.json`` for ``--append``; a parser error if they were measured on another machine."""
    with open(os.path.join(output, f"{stem}.json"), encoding="utf-8") as handle:
        previous = json.load(handle)
    if machine_text(previous["machine"]) != machine_text(this_machine):
        parser.error(f"--append: {stem}.json was measured on another machine ({machine_text(previous['machine'])})")
    return previous["rows"]


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
