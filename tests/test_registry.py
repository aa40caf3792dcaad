"""Registry: every name builds the variant it says, and its metadata is true."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from keras_lightnets import MobileNetV2, MobileNetV3Large, ShuffleNetV1, count_macs, create_model, list_models
from keras_lightnets.registry import families_table, get_entry, register_model
from keras_lightnets.weights import imagenet_file

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"

EXPECTED = {
    "mobilenet_v1", "mobilenet_v1_075", "mobilenet_v1_050", "mobilenet_v1_025",
    "mobilenet_v2", "mobilenet_v2_140", "mobilenet_v2_130", "mobilenet_v2_075",
    "mobilenet_v2_050", "mobilenet_v2_035",
    "mobilenet_v3_large", "mobilenet_v3_large_075", "mobilenet_v3_large_minimalistic",
    "mobilenet_v3_small", "mobilenet_v3_small_075", "mobilenet_v3_small_minimalistic",
    "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium", "mobilenet_v4_conv_large",
    "mobilenet_v4_hybrid_medium", "mobilenet_v4_hybrid_large",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
} | {f"shufflenet_v1_g{g}_x{s}" for g in (1, 2, 3, 4, 8) for s in ("0_25", "0_5", "1_0", "1_5", "2_0")}


def test_list_models_is_sorted_and_complete():
    names = list_models()
    assert names == sorted(names)
    assert EXPECTED <= set(names)


def _arguments_named_by(name: str) -> dict:
    """The arguments a name spells, read from the name alone."""
    if match := re.fullmatch(r"shufflenet_v1_g(\d)_x(\d)_(\d+)", name):
        return {"groups": int(match[1]), "scale": float(f"{match[2]}.{match[3]}")}
    if match := re.fullmatch(r"shufflenet_v2_x(\d)_(\d)", name):
        return {"scale": float(f"{match[1]}.{match[2]}")}
    if match := re.fullmatch(r"mobilenet_v4_(\w+)", name):
        return {"variant": match[1]}
    fixed = {"minimalistic": True} if name.endswith("_minimalistic") else {}
    width = re.search(r"_(\d{3})$", name)
    return fixed | {"alpha": int(width[1]) / 100 if width else 1.0}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_name_builds_the_variant_it_spells_with_its_recorded_metadata(name):
    entry = get_entry(name)
    assert {k: entry.fixed.get(k, 1.0 if k == "alpha" else None) for k in _arguments_named_by(name)} == _arguments_named_by(name)
    model = create_model(name, input_shape=(224, 224, 3))
    assert model.output_shape == (None, 1000)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (entry.params, entry.trainable, entry.macs) == (model.count_params(), trainable, count_macs(model))
    if entry.paper_macs:  # the paper's / reference's figure (printed in whole millions), an independent source
        paper = float(entry.paper_macs.split()[0])
        assert abs(entry.macs / 1e6 - paper) <= 0.02 * paper + 0.5, (name, entry.macs, paper)


def test_pretrained_names_are_the_published_ones():
    expected = (
        {"mobilenet_v1", "mobilenet_v1_075", "mobilenet_v1_050", "mobilenet_v1_025"}
        | {"mobilenet_v2", "mobilenet_v2_140", "mobilenet_v2_130", "mobilenet_v2_075", "mobilenet_v2_050", "mobilenet_v2_035"}
        | {f"mobilenet_v3_{s}{w}" for s in ("large", "small") for w in ("", "_075", "_minimalistic")}
        | {f"shufflenet_v2_x{s}" for s in ("0_5", "1_0", "1_5", "2_0")}
    )
    assert set(list_models(pretrained=True)) == expected
    with pytest.raises(TypeError, match="pretrained"):
        list_models(pretrained="yes")


@pytest.mark.parametrize("name", ["mobilenet_v1_050", "mobilenet_v2_035", "mobilenet_v3_large_minimalistic"])
def test_pretrained_files_are_the_ones_the_model_functions_load(name):
    entry = get_entry(name)
    (keras_weights,) = [p for p in entry.pretrained if p.tag == "imagenet"]
    spec = imagenet_file(entry.family, alpha=entry.fixed["alpha"], minimalistic=entry.fixed.get("minimalistic", False))
    assert spec in keras_weights.files
    assert len(keras_weights.files) == 2 * {"mobilenet_v1": 4, "mobilenet_v2": 5}.get(entry.family, 1)


def test_readme_families_table_is_generated_from_the_registry():
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- families-table: start -->\n", "<!-- families-table: end -->"
    assert start in text and end in text
    assert text.split(start)[1].split(end)[0].strip() == families_table()


def test_families_table_counts_every_registered_name():
    rows = [line.split(" | ") for line in families_table().splitlines()[2:]]
    assert sum(int(row[2]) for row in rows) == len(list_models())
    assert {(row[0].strip("| "), row[1]) for row in rows} == {(get_entry(n).task, get_entry(n).family) for n in list_models()}
    v3_small = next(row for row in rows if row[1] == "mobilenet_v3_small")
    assert v3_small[3] == "2.0-2.5 M" and v3_small[5].strip(" |") == "imagenet, torchvision"


DETECTORS = {"ssdlite320_mobilenet_v3_large"} | {
    f"ssdlite_{b}" for b in (
        "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
        "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium", "shufflenet_v2_x1_0",
    )
}


def test_tasks_partition_the_registry():
    assert set(list_models(task="detection")) == DETECTORS
    assert set(list_models(task="classification")) == EXPECTED
    segmenters = {f"{head}_{b}" for head in ("lraspp", "deeplabv3") for b in SEGMENTATION_BACKBONES}
    assert set(list_models(task="segmentation")) == segmenters
    assert set(list_models()) == EXPECTED | DETECTORS | segmenters
    with pytest.raises(ValueError, match="task.*'detect'"):
        list_models(task="detect")
    with pytest.raises(ValueError, match="registered already"):
        register_model(get_entry("mobilenet_v2"))
    with pytest.raises(ValueError, match="entry.task"):
        register_model(get_entry("mobilenet_v2")._replace(name="my_net", task="pose"))

# The list: MobileNetV2, V3 Large/Small, V4 Conv-S/M, ShuffleNetV2.
SEGMENTATION_BACKBONES = (
    "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium",
    "shufflenet_v2_x1_0",
)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_detector_name_builds_its_backbone_with_its_recorded_metadata(name):
    entry = get_entry(name)
    assert entry.task == "detection" and entry.fixed["backbone_name"] == name.split("_", 1)[1]
    model = create_model(name)  # 320x320, COCO's 90 classes + background
    assert [tuple(o.shape) for o in model.outputs] == [(None, 3234, 4), (None, 3234, 91)]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (entry.params, entry.trainable, entry.macs) == (model.count_params(), trainable, count_macs(model))
    assert entry.defaults.get("reduced_tail", False) == name.startswith(("ssdlite_mobilenet_v3", "ssdlite320"))
    if name == "ssdlite320_mobilenet_v3_large":  # torchvision's weights metadata: 3,440,060 parameters, 0.583 GFLOPs
        assert trainable == 3_440_060 and abs(entry.macs / 1e9 - 0.583) < 0.0005
        assert entry.fixed["padding"] == "symmetric"
    small = create_model(name, num_classes=3, input_shape=(288, 352, 3))
    assert small.output_shape[1][-1] == 4 and small.name == f"ssdlite_{entry.fixed['backbone_name']}"


def test_names_select_the_right_width():
    assert create_model("mobilenet_v2_035").count_params() == MobileNetV2(alpha=0.35).count_params()
    minimal = create_model("mobilenet_v3_large_minimalistic")
    assert minimal.count_params() == MobileNetV3Large(minimalistic=True).count_params()


def test_shufflenet_names_select_groups_and_scale():
    model = create_model("shufflenet_v1_g8_x0_5", input_shape=(64, 64, 3))
    assert model.count_params() == ShuffleNetV1(groups=8, scale=0.5, input_shape=(64, 64, 3)).count_params()


def test_fixed_arguments_cannot_be_changed():
    create_model("mobilenet_v2_035", alpha=0.35, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="alpha"):
        create_model("mobilenet_v2_035", alpha=1.0)
    with pytest.raises(ValueError, match="padding"):
        create_model("ssdlite320_mobilenet_v3_large", padding="same")


@pytest.mark.parametrize("name, error", [("mobilenet_v4", ValueError), ("MobileNetV2", ValueError), (3, TypeError)])
def test_unknown_names_are_refused(name, error):
    with pytest.raises(error, match="name"):
        create_model(name)
