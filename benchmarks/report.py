"""Turn raw figures into ratios, a Markdown report, PNG plots and a JSON file."""

from __future__ import annotations

import json
import os
from typing import Any

from keras_lightnets.files import atomic_target

TARGETS = {  # metric -> (target ratio, "<=" or ">=")
    "keras_b1": (1.0, "<="),
    "keras_batch": (1.0, "<="),
    "train_step": (1.0, "<="),
    "tflite_float32": (0.9, "<="),
    "int8_over_float32": (0.7, "<="),
    "peak_fraction_v3_large": (0.6, ">="),
    "shuffle_share": (0.03, "<="),  # issue 16: shuffles absorbed into weights
    "absorbed_over_kept": (0.85, "<="),  # issue 16: ShuffleNetV2 0.5x float32 >= 15% faster
}


def ratios(figures: dict[str, Any], matmul_gflops: float) -> dict[str, float]:
    """Ours / keras.applications for each metric of one pair, plus our own ratios."""
    def ratio(pair: list[float]) -> float:
        return pair[0] / pair[1]

    tflite = figures["tflite"]
    out = {
        "keras_b1": ratio(figures["keras_b1_ms"]),
        "keras_batch": ratio(figures["keras_batch_ms"]),
        "train_step": ratio(figures["train_step_ms"]),
        "build": ratio(figures["build_s"]),
        "load": ratio(figures["load_s"]),
    }
    for quantization, timed in tflite.items():
        out[f"tflite_{quantization}"] = timed["ours"]["ms"] / timed["ref"]["ms"]
    if "int8" in tflite:
        out["int8_over_float32"] = tflite["int8"]["ours"]["ms"] / tflite["float32"]["ours"]["ms"]
        out["ref_int8_over_float32"] = tflite["int8"]["ref"]["ms"] / tflite["float32"]["ref"]["ms"]
    achieved = 2 * figures["macs"] / (tflite["float32"]["ours"]["ms"] / 1e3) / 1e9
    out["gflops"] = achieved
    out["peak_fraction"] = achieved / matmul_gflops
    return out


def _targets(results: dict[str, Any], table: dict[str, dict[str, float]]) -> list[tuple[str, str, str, bool]]:
    rows = []
    for metric in ("keras_b1", "keras_batch", "train_step", "tflite_float32", "int8_over_float32"):
        values = {name: r[metric] for name, r in table.items() if metric in r}
        if values:
            worst_name = max(values, key=values.get)
            target, _ = TARGETS[metric]
            rows.append((metric, f"<= {target}", f"{values[worst_name]:.2f} ({worst_name})", values[worst_name] <= target))
    if "mobilenet_v3_large" in table:
        value = table["mobilenet_v3_large"]["peak_fraction"]
        rows.append(("peak_fraction_v3_large", ">= 0.6", f"{value:.3f}", value >= 0.6))
    for metric in ("shuffle_share", "absorbed_over_kept"):
        values = {n: e[metric] for n, e in results["shufflenets"].items() if n.startswith("shufflenet_v2") and metric in e}
        if values:
            worst = max(values, key=values.get)
            target, _ = TARGETS[metric]
            rows.append((metric, f"<= {target}", f"{values[worst]:.3f} ({worst})", values[worst] <= target))
    return rows


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    table = {name: ratios(f, results["matmul_gflops"]) for name, f in results["pairs"].items()}
    m = results["machine"]
    lines = [
        "# Benchmarks: keras_lightnets / keras.applications",
        "",
        f"{m['date']}, {m.get('cpu', 'unknown CPU')}, {m['cpus']} CPUs, flags {' '.join(m.get('flags', [])) or 'unknown'}, "
        f"{m['platform']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}; "
        f"input {s['size']}x{s['size']}, batch {s['batch']}, median of {s['runs']} interleaved runs, "
        f"LiteRT {s['threads']} threads{' (QUICK smoke run: not for conclusions)' if s['quick'] else ''}. "
        f"Matmul peak (NumPy float32): {results['matmul_gflops']:.1f} GFLOP/s. Run took {results['seconds']:.0f} s.",
        "",
        "Ratios are ours / keras.applications in the same run (< 1: ours faster).",
        "",
        "| model | Keras b1 | Keras b" + str(s["batch"]) + " | train step | build | .keras load | "
        + " | ".join(f"TFLite {q}" for q in s["quantizations"]) + " |",
        "|---" * (6 + len(s["quantizations"])) + "|",
    ]
    for name, r in table.items():
        cells = [r["keras_b1"], r["keras_batch"], r["train_step"], r["build"], r["load"]]
        cells += [r[f"tflite_{q}"] for q in s["quantizations"]]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    lines += ["", "## Targets", "", "| metric | target | measured (worst) | met |", "|---|---|---|---|"]
    for metric, target, measured, met in _targets(results, table):
        lines.append(f"| {metric} | {target} | {measured} | {'yes' if met else 'NO'} |")
    lines += ["", "## TFLite (LiteRT, XNNPACK) latency and size, batch 1", "",
              "| model | quantization | ours ms | keras.applications ms | ours MB | keras.applications MB | PAD ops ours / theirs |",
              "|---|---|---|---|---|---|---|"]
    for name, figures in results["pairs"].items():
        for q, timed in figures["tflite"].items():
            o, k = timed["ours"], timed["ref"]
            lines.append(
                f"| {name} | {q} | {o['ms']:.2f} | {k['ms']:.2f} | {o['size_mb']:.2f} | {k['size_mb']:.2f} | "
                f"{o['ops'].get('PAD', 0)} / {k['ops'].get('PAD', 0)} |"
            )
    lines += ["", "| model | MAdds (M) | TFLite float32 GFLOP/s | fraction of matmul peak | int8 / float32 ours | int8 / float32 keras.applications |",
              "|---|---|---|---|---|---|"]
    for name, r in table.items():
        lines.append(
            f"| {name} | {results['pairs'][name]['macs'] / 1e6:.1f} | {r['gflops']:.1f} | {r['peak_fraction']:.3f} | "
            f"{r.get('int8_over_float32', float('nan')):.2f} | {r.get('ref_int8_over_float32', float('nan')):.2f} |"
        )
    sc = results["scaling"]
    lines += ["", "## Scaling", "",
              f"TFLite float32 latency of {sc['size']['model']} against input size "
              f"(growth exponent against pixel count: {sc['size']['exponent']:.2f}; 1.0 = linear):", "",
              "| size | " + " | ".join(map(str, sc["size"]["sizes"])) + " |",
              "|---" * (1 + len(sc["size"]["sizes"])) + "|",
              "| ms | " + " | ".join(f"{t:.2f}" for t in sc["size"]["tflite_float32_ms"]) + " |",
              "", f"MobileNetV2 TFLite float32 at {s['size']} against alpha:", "",
              "| alpha | " + " | ".join(map(str, sc["width"]["alphas"])) + " |",
              "|---" * (1 + len(sc["width"]["alphas"])) + "|",
              "| ms | " + " | ".join(f"{t:.2f}" for t in sc["width"]["tflite_float32_ms"]) + " |",
              "", f"Keras inference of {sc['batch']['model']} against batch size:", "",
              "| batch | " + " | ".join(map(str, sc["batch"]["batches"])) + " |",
              "|---" * (1 + len(sc["batch"]["batches"])) + "|",
              "| ms / image | " + " | ".join(f"{t:.2f}" for t in sc["batch"]["ms_per_image"]) + " |"]
    lines += ["", "## ShuffleNets against MobileNets of about equal MAdds (TFLite, batch 1)", "",
              "Ours: the default export (ShuffleNetV2's shuffles absorbed into the weights, "
              "`keras_lightnets.rewrites.absorb_channel_shuffle`); kept: the shuffles converted as they are; "
              "no shuffle: every shuffle replaced by an identity (a different function: the floor). "
              "Shuffle share = 1 - no shuffle / that file. The four files of a model are timed interleaved, "
              f"median over {s.get('shuffle_rounds', 1)} rounds of {s['runs']} runs.", "",
              "| model | MAdds (M) | peer | peer MAdds (M) | float32 ms ours / kept / no shuffle / peer | "
              "int8 ms ours / kept / no shuffle / peer | shuffle share ours (kept) | ours / kept float32 |",
              "|---|---|---|---|---|---|---|---|"]
    for name, e in results["shufflenets"].items():
        cells = []
        for q in ("float32", "int8"):
            if f"{q}_ms" in e:
                cells.append(f"{e[f'{q}_ms'][0]:.2f} / {e[f'{q}_kept_ms']:.2f} / {e[f'{q}_noshuffle_ms']:.2f} / {e[f'{q}_ms'][1]:.2f}")
            else:
                cells.append("-")
        lines.append(
            f"| {name} | {e['macs'] / 1e6:.1f} | {e['peer']} | {e['peer_macs'] / 1e6:.1f} | {cells[0]} | {cells[1]} | "
            f"{e['shuffle_share']:.1%} ({e['kept_shuffle_share']:.1%}) | {e['absorbed_over_kept']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plots(results: dict[str, Any], folder: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    table = {name: ratios(f, results["matmul_gflops"]) for name, f in results["pairs"].items()}
    metrics = ["keras_b1", "keras_batch", "train_step", "build", "load"]
    metrics += [f"tflite_{q}" for q in results["settings"]["quantizations"]]
    figure, axis = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(1, len(table))
    for index, (name, r) in enumerate(table.items()):
        axis.bar([i + index * width for i in range(len(metrics))], [r[m] for m in metrics], width, label=name)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(metrics))], metrics, rotation=30, ha="right")
    axis.set_ylabel("ours / keras.applications")
    axis.set_title("Time ratios in one run (below 1: keras_lightnets faster)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    written.append(_save(figure, os.path.join(folder, "ratios.png")))
    plt.close(figure)

    sc = results["scaling"]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].loglog([n * n for n in sc["size"]["sizes"]], sc["size"]["tflite_float32_ms"], "o-")
    axes[0].set(xlabel="pixels", ylabel="ms", title=f"{sc['size']['model']}: size (exp {sc['size']['exponent']:.2f})")
    axes[1].plot(sc["width"]["alphas"], sc["width"]["tflite_float32_ms"], "o-")
    axes[1].set(xlabel="alpha", ylabel="ms", title="mobilenet_v2: width")
    axes[2].plot(sc["batch"]["batches"], sc["batch"]["ms_per_image"], "o-")
    axes[2].set(xlabel="batch", ylabel="ms / image", title=f"{sc['batch']['model']}: Keras batch")
    figure.tight_layout()
    written.append(_save(figure, os.path.join(folder, "scaling.png")))
    plt.close(figure)
    return written


def _save(figure: Any, path: str) -> str:
    with atomic_target(path) as target:
        figure.savefig(target, dpi=100, format="png")
    return path


def write_report(results: dict[str, Any], folder: str) -> list[str]:
    """Write results.json, results.md, ratios.png and scaling.png into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, text in (("results.json", json.dumps(results, indent=1, sort_keys=True)), ("results.md", markdown(results))):
        path = os.path.join(folder, name)
        with atomic_target(path) as target, open(target, "w") as file:
            file.write(text)
        written.append(path)
    return written + plots(results, folder)
