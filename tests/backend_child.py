"""Child process of tests/test_backends.py: run saved models on another Keras backend.

``KERAS_BACKEND=<backend> python -m tests.backend_child FOLDER`` loads every
``NAME.keras`` in FOLDER with ``safe_mode=True``, runs it on ``NAME.npy``
(inference mode, compiled by the backend), writes the outputs to
``NAME.out.npz`` and saves the model again from this backend as
``NAME.back.keras`` (for the round trip the other way).
"""

from __future__ import annotations

import pathlib
import sys

import keras
import numpy as np

import keras_lightnets  # noqa: F401  (registers the custom layers and LightNet)


def main(folder: pathlib.Path) -> None:
    for path in sorted(folder.glob("*.keras")):
        if path.name.endswith(".back.keras"):
            continue
        name = path.name[: -len(".keras")]
        model = keras.saving.load_model(path, safe_mode=True)
        outputs = keras.tree.flatten(model.predict(np.load(folder / f"{name}.npy"), verbose=0))
        np.savez(folder / f"{name}.out.npz", *[keras.ops.convert_to_numpy(o) for o in outputs])
        model.save(folder / f"{name}.back.keras")
    print("BACKEND", keras.backend.backend())


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
