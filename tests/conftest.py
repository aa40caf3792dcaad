"""Shared fixtures: quiet TensorFlow, a seeded random generator."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# torchvision must be imported before TensorFlow: importing it afterwards loads
# triton's LLVM next to TensorFlow's and crashes the process (torch 2.14.1 CUDA
# build, TF 2.21). torch alone (what from_torchvision needs) imports fine later.
import torch  # noqa: E402,F401
import torchvision  # noqa: E402,F401

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits_data():
    """The embedded digits at 32x32 (train pipeline augmented)."""
    from keras_lightnets.data import digits

    return digits(input_size=32, batch_size=64)


@pytest.fixture(scope="session")
def trained_v3_small(digits_data):
    """MobileNetV3-Small trained on the digits with the package's recipe (~45 s)."""
    from keras_lightnets.train import fit

    return fit("mobilenet_v3_small", digits_data, epochs=12, verbose=0)
