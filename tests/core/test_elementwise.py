"""The elementwise math the primitives share (jopt/_core/elementwise.py), and a moment used
as stored (jopt/_core/dtypes.py ``stored``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jopt._core.dtypes import stored
from jopt._core.elementwise import abs_sq, ema, normalize


def test_abs_sq_is_real():
    g = jnp.asarray([3.0, -4.0], jnp.float32)
    np.testing.assert_array_equal(np.asarray(abs_sq(g)), [9.0, 16.0])
    z = jnp.asarray([3 + 4j, -1j], jnp.complex64)
    out = abs_sq(z)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out), [25.0, 1.0])


def test_ema_is_the_weighted_sum_or_the_plain_sum():
    moment, x = jnp.asarray([1.0, 2.0]), jnp.asarray([3.0, -1.0])
    decay, rest = jnp.asarray(0.9), jnp.asarray(0.1)
    np.testing.assert_allclose(np.asarray(ema(decay, rest, moment, x)), [1.2, 1.7], rtol=1e-15)
    np.testing.assert_allclose(np.asarray(ema(decay, None, moment, x)), [3.9, 0.8], rtol=1e-15)


def test_a_narrow_moment_is_used_as_stored():
    # bfloat16 state: the step reads the rounded moment, in the compute dtype.
    moment = jnp.zeros(1, jnp.bfloat16)
    x = jnp.asarray([1.0 + 2.0**-10], jnp.float32)  # not a bfloat16 number
    out = ema(jnp.asarray(0.0, jnp.float32), None, moment, x)
    assert out.dtype == jnp.float32 and float(out[0]) == 1.0
    assert stored(x, jnp.float32) is x
    assert float(stored(x, jnp.bfloat16)[0]) == 1.0 and stored(x, jnp.bfloat16).dtype == x.dtype


@pytest.mark.parametrize("eps_in_sqrt, want", [(False, 2.0 / (2.0 + 0.5)), (True, 2.0 / 4.5**0.5)])
def test_normalize(eps_in_sqrt, want):
    g = jnp.asarray([2.0 + 0j], jnp.complex128)
    out = normalize(g, jnp.asarray([4.0]), jnp.asarray(0.5), eps_in_sqrt)
    assert out.dtype == jnp.complex128
    np.testing.assert_allclose(np.asarray(out), [want], rtol=1e-15)
