"""Removed in 0.2.0: its names moved to ``models.args``, ``models.heads``, ``models.network``,
``models.strides``, ``layers``, ``weights`` and ``validation``. Importing them from here
still works until 0.3.0, with a ``DeprecationWarning`` naming the new place
(:data:`keras_lightnets.deprecation.MOVED`).
"""

from keras_lightnets.deprecation import moved_from

__getattr__ = moved_from("keras_lightnets.models.common")
