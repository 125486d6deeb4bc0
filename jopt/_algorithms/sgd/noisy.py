"""Annealed Gaussian gradient noise (Neelakantan et al. 2015)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import (
    UnnamedTypeError,
    checked,
    learning_rate,
    nonnegative,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import increment, zero_count
from jopt.sharding._placement import replicated_sharding

KEY = unchecked("an int seed or a jax.random key, as optax.add_noise's key")


class AddNoiseState(NamedTuple):
    """The state of :func:`jopt.add_noise` (optax's ``AddNoiseState`` layout).

    Args:
      count: int32, updates applied.
      rng_key: the random key the next update splits, as its raw uint32 data
        (``jax.random.key_data``: a plain array, so the state compares, donates and
        checkpoints as numbers; the update wraps it back).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_noise(key=0)
    >>> _, state = tx.update(jnp.zeros(2), tx.init(jnp.zeros(2)))
    >>> state.count
    Array(1, dtype=int32)
    """

    count: jax.Array
    rng_key: jax.Array


def _typed_key(key: Any) -> jax.Array:
    """A typed key from an int seed, a typed key or a raw uint32 key of shape (2,)."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, (int, jnp.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.dtype(dtype) == jnp.uint32 and jnp.shape(key) == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))
    if dtype is not None and jnp.issubdtype(dtype, jnp.integer) and jnp.ndim(key) == 0:
        return jax.random.key(key)
    raise UnnamedTypeError(
        f"key={key!r} is invalid; key must be an int seed or a jax.random key (jax.random.key(0))."
    )


def _replicated(params: Any, x: jax.Array) -> jax.Array:
    """``x`` replicated over the devices of committed ``params`` (as a step returns it)."""
    sharding = replicated_sharding(params)
    return x if sharding is None else jax.device_put(x, sharding)


@checked(eta=nonnegative(), gamma=nonnegative(), key=KEY)
def add_noise(
    eta: Scalar = 0.01, gamma: Scalar = 0.55, key: Any = 0
) -> optax.GradientTransformationExtraArgs:
    """Adds annealed Gaussian noise: g_t ← g_t + N(0, σ_t²), σ_t² = η / t^γ (t = 1, 2, …).

    The randomness comes from the key in the state (split once per update, then once per
    leaf), so each update is a pure function of its inputs; the same key gives the same
    noise as optax.add_noise. The noise is drawn in each leaf's dtype.

    Args:
      eta: η >= 0, the variance at the first step.
      gamma: γ >= 0, the decay exponent of the variance.
      key: an int seed or a ``jax.random.key`` (optax's ``key``).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.AddNoiseState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_noise(eta=0.0)  # no noise: the identity
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([ 1., -2.], dtype=float32)
    """
    typed = _typed_key(key)

    data = jax.random.key_data(typed)
    impl = jax.random.key_impl(typed)

    def init_fn(params):
        return AddNoiseState(zero_count(params), _replicated(params, jnp.array(data)))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = increment(state.count)

        @per_dtype
        def std(dt):
            t = count.astype(dt)
            return jnp.sqrt(cast(eta, dt) / t ** cast(gamma, dt))

        rng_key, sample_key = jax.random.split(jax.random.wrap_key_data(state.rng_key, impl=impl))
        noise = optax.tree.random_like(sample_key, updates, jax.random.normal)

        def add(g, z):
            dt = compute_dtype(g)
            s = std(real_dtype(dt)).astype(dt)
            return (g.astype(dt) + s * z.astype(dt)).astype(g.dtype)

        new_key = jax.random.key_data(rng_key)
        return jax.tree.map(add, updates, noise), AddNoiseState(count, new_key)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), eta=nonnegative(), gamma=nonnegative(), key=KEY)
def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: Scalar = 0.01,
    gamma: Scalar = 0.55,
    key: Any = 0,
) -> optax.GradientTransformationExtraArgs:
    """SGD on noisy gradients (Neelakantan et al. 2015, "Adding Gradient Noise Improves
    Learning for Very Deep Networks"):

    Δθ = −α (g_t + N(0, σ_t²)),   σ_t² = η / t^γ   (t = 1, 2, …).

    ``chain(add_noise(eta, gamma, key), scale_by_learning_rate(learning_rate))``, as
    optax.noisy_sgd; the defaults η = 0.01, γ = 0.55 are the paper's (it tried
    η ∈ {0.01, 0.3, 1.0} with γ = 0.55). The key lives in the state: the update is pure.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      eta: η >= 0.
      gamma: γ >= 0.
      key: an int seed or a ``jax.random.key``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.noisy_sgd(0.1, eta=0.0)
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.2], dtype=float32)
    """
    return chain(add_noise(eta, gamma, key), scale_by_learning_rate(learning_rate))
