"""Doctests run with jax's default settings (float32), as a user would see them."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
