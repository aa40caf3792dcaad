"""Detectors and both segmentation heads on every Keras backend, across ``.keras`` files.

The task half of ``tests/test_backends.py`` (classifiers and backbones there), in its own module so
that the JAX and PyTorch sessions run the two on two workers. Each case is built here with
realistic weights, saved, run here and on TensorFlow in a child process, loaded back: raw box
regressions and class logits for detectors, logits at the input size for segmenters.
"""

from __future__ import annotations

import pytest

from tests.helpers import check_crossed, crossed_fixture

pytestmark = pytest.mark.backends

# Three detectors: torchvision's build and two other backbone families' taps. Every backbone is crossed as a
# classifier in tests/test_backends.py and every registered detector is built with its recorded metadata in
# tests/test_registry.py; the extra blocks and heads are the same code for all (CI time: XLA compiles each twice).
DETECTORS = ["ssdlite320_mobilenet_v3_large", "ssdlite_mobilenet_v4_conv_small", "ssdlite_shufflenet_v2_x1_0"]
# Both heads at an odd, non-square size: torchvision's two builds (symmetric padding, dilated strided block)
# and two other backbones with TensorFlow's padding.
SEGMENTERS = [
    "lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "lraspp_shufflenet_v2_x1_0",
    "deeplabv3_mobilenet_v4_conv_small",
]
CASES = [(name, (320, 320), dict(num_classes=5)) for name in DETECTORS] + [
    (name, (97, 130), dict(num_classes=3)) for name in SEGMENTERS
]
CASE_IDS = [f"{name}-{h}x{w}" for name, (h, w), _ in CASES]


crossed = crossed_fixture(CASES)  # each case built here with realistic weights, saved, run here and on TensorFlow


@pytest.mark.other_backends
@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_task_outputs_equal_the_reference_backend_across_keras_files(index, crossed):
    folder, ours = crossed
    check_crossed(folder, ours[index], index, CASE_IDS[index])
