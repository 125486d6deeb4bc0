"""Stochastic rounding of bfloat16 parameters (torchao's ``_fp32_to_bf16_sr``)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.precision.landing import landing_update
from jopt._core.checks import Integer, checked
from jopt._core.state import check_update_params, scalar

_LOW = np.uint32(0xFFFF)
_HIGH = np.uint32(0xFFFF0000)
_ONE_UP = np.uint32(0x10000)


class StochasticRoundingState(NamedTuple):
    """The random stream of :func:`jopt.stochastic_rounding`.

    Args:
      key: the key of the next step, as ``jax.random.key_data`` writes it (uint32).

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.stochastic_rounding(seed=1).init({"w": jnp.zeros(2, jnp.bfloat16)})
    >>> state.key.dtype
    dtype('uint32')
    """

    key: jax.Array


def round_stochastically(x: jax.Array, bits: jax.Array) -> jax.Array:
    """float32 ``x`` rounded to bfloat16 by 16 random ``bits`` (torchao's rule).

    With a = the low 16 bits of x's float32 pattern, x rounds away from zero (its upper
    16 bits plus one) when ``bits`` < a, else toward zero (its upper 16 bits): away with
    probability a / 2¹⁶, so E[result] = x.

    >>> import jax.numpy as jnp
    >>> from jopt._algorithms.precision.stochastic_rounding import round_stochastically
    >>> x = jnp.full(2, 1.0 + 2.0**-9, jnp.float32)  # a quarter of the way to 1 + 2⁻⁷
    >>> round_stochastically(x, jnp.array([16383, 16384], jnp.uint32))
    Array([1.00781, 1], dtype=bfloat16)
    """
    pattern = jax.lax.bitcast_convert_type(x, jnp.uint32)
    toward_zero = pattern & _HIGH
    rounded = jnp.where(bits < (pattern & _LOW), toward_zero + _ONE_UP, toward_zero)
    return jax.lax.bitcast_convert_type(rounded, jnp.float32).astype(jnp.bfloat16)


@checked(seed=Integer(0, 2**32 - 1, why="the seed of jax.random.key is 32-bit"))
def stochastic_rounding(seed: int = 0) -> optax.GradientTransformationExtraArgs:
    """Stochastic rounding of bfloat16 parameters, placed last in a chain.

    For a bfloat16 parameter p and the update u the chain computed, the exact float32 sum
    x = p + u is rounded to one of its two bfloat16 neighbours, away from zero with
    probability (x − x↓)/(x↑ − x↓) (x↓, x↑: the neighbours toward and away from zero), so
    E[p_new] = p + u: small updates move the parameter on average instead of vanishing
    under round-to-nearest. The rule is torchao's ``_fp32_to_bf16_sr``
    (:func:`round_stochastically`): the low 16 bits of x's float32 pattern against 16
    random bits. The returned update u' (u's dtype) makes ``optax.apply_updates(p, u')``
    equal that rounded value, bit for bit for a float32 u and for a bfloat16 u no larger
    than p. A larger bfloat16 u may find no bfloat16 u' that lands there (bfloat16
    addition rounds p + u' to even; rare): p then lands on the other neighbour of x.
    Leaves of other dtypes pass unchanged.

    The random bits are a pure function of the state: each step splits the state's key,
    ``key, step_key = jax.random.split(key)``, and leaf i (in ``jax.tree.leaves`` order)
    draws ``jax.random.bits(jax.random.fold_in(step_key, i), shape, jnp.uint16)``.

    Args:
      seed: the seed of the random stream.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.StochasticRoundingState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> params = {"w": jnp.ones(1000, jnp.bfloat16)}
    >>> tx = optax.chain(optax.sgd(1.0), jopt.stochastic_rounding(seed=0))
    >>> grads = {"w": jnp.full(1000, -1e-3, jnp.bfloat16)}  # 1e-3: an eighth of a step at 1
    >>> updates, _ = tx.update(grads, tx.init(params), params)
    >>> new = optax.apply_updates(params, updates)["w"]
    >>> sorted(set(new.tolist()))  # each lands on one of the two neighbours of 1.001
    [1.0, 1.0078125]
    >>> round(float(new.astype(jnp.float32).mean()), 3)  # 1.001 on average
    1.001
    """

    def init_fn(params):
        return StochasticRoundingState(
            key=scalar(params, jax.random.key_data(jax.random.key(seed)), jnp.uint32)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "to round each bfloat16 parameter")
        key, step_key = jax.random.split(jax.random.wrap_key_data(state.key))
        leaves, treedef = jax.tree.flatten(updates)
        out = []
        for i, (u, p) in enumerate(zip(leaves, treedef.flatten_up_to(params), strict=True)):
            if jnp.dtype(p.dtype) != jnp.bfloat16:
                out.append(u)
                continue
            bits = jax.random.bits(jax.random.fold_in(step_key, i), u.shape, jnp.uint16)
            x = p.astype(jnp.float32) + u.astype(jnp.float32)
            target = round_stochastically(x, bits.astype(jnp.uint32))
            out.append(landing_update(p, target, jnp.dtype(u.dtype), near=x))
        return treedef.unflatten(out), StochasticRoundingState(key=jax.random.key_data(key))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
