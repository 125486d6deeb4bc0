"""The dtype policy every primitive follows.

Math runs in ``compute_dtype(leaf)``: float32 for bfloat16/float16/float32 leaves, float64
for float64 leaves, the leaf's own complex dtype for complex leaves. Moments are stored in
the leaf's dtype, except float16 leaves, whose moments are float32 (float16 underflows at
6e-8: Adam's v of a 1e-4 gradient is 0 there); ``mu_dtype``/``nu_dtype`` override it, and
for a complex leaf they set the precision of its complex first moment and of its real
second moment. They also take a quantized format (:func:`jopt.quantized`: 8-bit, 4-bit or
FP8 codes per block, :mod:`jopt._core.moments`), which keeps the leaves it does not quantize
at the default dtype. Second moments of complex leaves are real (|g|², as optax).
Hyperparameters are cast to the dtype they multiply, so nothing mixes dtypes under
``jax_numpy_dtype_promotion="strict"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import UnnamedTypeError


def dtype_of(x: Any) -> jnp.dtype:
    """The dtype of an array or a Python/NumPy number."""
    return jnp.dtype(x.dtype if hasattr(x, "dtype") else jnp.asarray(x).dtype)


def compute_dtype(x: Any) -> jnp.dtype:
    """float32 for 16- and 32-bit floats, float64 for float64, complex dtypes as they are."""
    return _compute_dtype(dtype_of(x))


@functools.cache
def _compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise UnnamedTypeError(
            f"updates must be floating point or complex, got a leaf of dtype {dtype}."
        )
    return dtype if jnp.finfo(dtype).bits > 32 else jnp.dtype(jnp.float32)


def real_dtype(dtype: Any) -> jnp.dtype:
    """The real dtype of the same precision (float32 for complex64)."""
    return jnp.dtype(jnp.finfo(dtype).dtype)


def complex_dtype(dtype: Any) -> jnp.dtype:
    """The complex dtype of a real dtype's precision (complex64 for float32 and narrower)."""
    return jnp.dtype(jnp.complex128 if jnp.finfo(dtype).bits > 32 else jnp.complex64)


def cast(value: Any, dtype: Any) -> jax.Array:
    """A hyperparameter (Python number, array or tracer) as an array of ``dtype``."""
    return jnp.asarray(value).astype(dtype)


def per_dtype(make: Callable[[jnp.dtype], Any]) -> Callable[[jnp.dtype], Any]:
    """``make(dtype)`` memoized for one update: scalar hyperparameter math built once per
    compute dtype instead of once per leaf (fewer ops to trace and compile on big trees)."""
    return functools.cache(make)


def stored(x: jax.Array, dtype: Any) -> jax.Array:
    """``x`` rounded to its state ``dtype`` and back: the step uses a moment as stored.

    A no-op for float32/float64 state. For bfloat16 state XLA then reads the new, narrow
    moment instead of recomputing it from the old one (which forced copies of the
    donated state): Adam with bfloat16 m and v moves 28 bytes per parameter, not 40.
    For a quantized moment ``dtype`` is its storage (the ``.dtype`` of a
    :class:`jopt._core.moments.Held`): ``x`` becomes decode(encode(x)).
    """
    rounded = getattr(dtype, "rounded", None)
    if rounded is not None:
        return rounded(x)
    return x if x.dtype == dtype else x.astype(dtype).astype(x.dtype)


def state_dtype(leaf: Any, dtype: Any | None = None, *, real: bool = False) -> jnp.dtype:
    """The dtype a moment of ``leaf`` is stored in (the module docstring's rule).

    ``real=True`` for a second moment (|g|²): real for complex leaves. ``dtype`` (a
    ``mu_dtype``/``nu_dtype``) sets the precision: as it is for a real leaf, as the
    complex or real dtype of that precision for a complex leaf.
    """
    leaf_dtype = dtype_of(leaf)
    if jnp.issubdtype(leaf_dtype, jnp.complexfloating):
        if dtype is None:
            return real_dtype(leaf_dtype) if real else leaf_dtype
        return jnp.dtype(dtype) if real else complex_dtype(dtype)
    if dtype is not None:
        return jnp.dtype(dtype)
    if leaf_dtype == jnp.float16:
        return jnp.dtype(jnp.float32)
    return leaf_dtype
