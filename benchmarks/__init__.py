"""Benchmarks of keras_lightnets against keras.applications: ``python -m benchmarks [--quick]``."""
