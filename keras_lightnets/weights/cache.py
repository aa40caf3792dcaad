"""The download cache: published files fetched once into ``$KERAS_HOME/models``, hash-checked.

A file is downloaded under a temporary name and renamed into place only when
its hash matches, so the cache never holds a partial or corrupted file.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import keras

from keras_lightnets.validation import check_path
from keras_lightnets.weights.catalogue import WeightsFile

__all__ = ["cache_dir", "fetch", "hash_matches"]


def cache_dir() -> str:
    """The cache root: ``$KERAS_HOME`` or ``~/.keras`` (files go to its ``models`` folder).

    Examples:
        >>> os.path.basename(cache_dir()) in (".keras", os.path.basename(os.environ.get("KERAS_HOME", "")))
        True
    """
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def hash_matches(path: str, file_hash: str) -> bool:
    """Whether the MD5 (32 hex digits) or SHA-256 (64) of the file ``path`` is ``file_hash``.

    Args:
        path: the file to hash.
        file_hash: the expected MD5 or SHA-256 hex digest.

    Examples:
        >>> hash_matches(__file__, "0" * 32)
        False
    """
    digest = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == file_hash


def fetch(spec: WeightsFile, root: str | None = None) -> str:
    """Download ``spec`` (once) into ``root/models``; return the local path.

    Uses ``keras.utils.get_file`` with the file's hash under a temporary name
    and renames it into place only when the hash matches. A cached file whose
    hash no longer matches is downloaded again.

    Args:
        spec: a :class:`~keras_lightnets.weights.catalogue.WeightsFile`, e.g.
            from :func:`~keras_lightnets.weights.catalogue.imagenet_file`.
        root: the cache root; default :func:`cache_dir`.

    Examples:
        Downloads the ImageNet weights (once; not run by the doctests):

        >>> from keras_lightnets.weights import imagenet_file
        >>> path = fetch(imagenet_file("mobilenet_v3_small"))  # doctest: +SKIP
    """
    if not isinstance(spec, WeightsFile):
        raise TypeError(f"`spec` must be a WeightsFile (see imagenet_file()); received {spec!r}.")
    root = cache_dir() if root is None else check_path("root", root)
    folder = os.path.join(root, "models")
    target = os.path.join(folder, spec.fname)
    if os.path.exists(target):
        if spec.file_hash is None or hash_matches(target, spec.file_hash):
            return target
        os.remove(target)
    os.makedirs(folder, exist_ok=True)
    partial = f".{spec.fname}.{uuid.uuid4().hex}.part"
    try:
        path = keras.utils.get_file(
            partial, spec.origin, file_hash=spec.file_hash, cache_dir=root, cache_subdir="models"
        )
        os.replace(path, target)
    except ValueError as error:
        raise ValueError(
            f"The download of {spec.origin} does not match its hash {spec.file_hash} (corrupted or "
            f"truncated); nothing was cached. Keras said: {error}"
        ) from None
    finally:
        partial_path = os.path.join(folder, partial)
        if os.path.exists(partial_path):
            os.remove(partial_path)
    return target
