"""SM3 (Anil et al. 2019): Adagrad with one accumulator per row of each axis."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.core
import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import Real, checked, flag, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, state_dtype
from jopt._core.elementwise import ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_real_params, check_tree, moments_like
from jopt.sharding._leafwise import explicit_sharding, map_leaves
from jopt.sharding._placement import replicated_sharding

RULES = dict(
    b1=unit_interval(),
    b2=Real(0.0, 1.0, lo_open=True),
    eps=nonnegative(),
    keep_max=flag(),
)


class ScaleBySM3State(NamedTuple):
    """SM3's state (optax's ``ScaleBySM3State`` fields, :func:`jopt.scale_by_sm3`).

    Args:
      mu: per leaf (in the order of ``jax.tree.leaves(params)``), a tuple of its
        accumulators, one vector per axis (the leaf's size along that axis; one scalar
        for a scalar leaf): μ(r) of the paper. (optax keeps them in a tree of the
        params' structure; a flat tuple keeps them apart from the parameter-shaped
        state, replicated on a mesh.)
      nu: the momentum of the preconditioned gradient (a tree like the params).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_sm3()
    >>> _, state = tx.update(jnp.array([[1.0, 2.0]]), tx.init(jnp.zeros((1, 2))))
    >>> state.mu  # the max of g² over each row, over each column
    ((Array([4.], dtype=float32), Array([1., 4.], dtype=float32)),)
    """

    mu: Any
    nu: PerParam


def _accumulators(p: Any) -> list[jax.Array]:
    """A leaf's zero accumulators, replicated over the devices of a committed leaf."""
    dt = state_dtype(p, real=True)
    shapes = [(n,) for n in jnp.shape(p)] or [()]
    sharding = replicated_sharding(p)
    out = [jnp.zeros(shape, dt) for shape in shapes]
    if sharding is None or isinstance(p, jax.core.Tracer):
        return out
    return [jax.device_put(x, sharding) for x in out]


def _as_stored(x: jax.Array, like: jax.Array) -> jax.Array:
    """``x`` in the sharding ``like``'s type carries over ``Explicit`` mesh axes (a row max
    of a sharded leaf is sharded; the accumulators stay replicated)."""
    have, want = explicit_sharding(x), explicit_sharding(like)
    if want is None or have is None or have.spec == want.spec:
        return x
    return jax.sharding.reshard(x, want)


def _expanded(acc: jax.Array, axis: int, ndim: int) -> jax.Array:
    return acc.reshape([1] * axis + [acc.shape[0]] + [1] * (ndim - axis - 1))


@checked(**RULES)
def scale_by_sm3(
    b1: Scalar = 0.0,
    b2: Scalar = 1.0,
    eps: Scalar = 1e-30,
    *,
    keep_max: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """SM3-II's preconditioned gradient, with momentum.

    For a leaf with axes a = 1..k and accumulators μ_a (one entry per index along a):

    ν_t = β2 · min_a μ_a + c g_t²      (c = 1 for β2 = 1, the paper's sum; else 1 − β2),
    μ_a ← max of ν_t over every axis but a   (with ``keep_max`` and β2 < 1: the max of
          that and the old μ_a, as pytorch_optimizer; a scalar leaf's μ is ν_t),
    u_t = g_t / sqrt(ν_t + ε)  (0 where ν_t = 0),   m_t = β1 m_{t−1} + (1−β1) u_t.

    Defaults are pytorch_optimizer's ``SM3`` (no momentum, ε = 1e-30, the paper's
    cumulative sum: its ``beta=0`` is β2 = 1 here, its ``beta=β > 0`` is β2 = β).
    optax.scale_by_sm3 is ``b1=0.9, eps=1e-8, keep_max=False``. Real leaves only.

    Args:
      b1: β1 in [0, 1), the momentum (pytorch_optimizer's ``momentum``).
      b2: β2 in (0, 1]: 1 sums g² (the paper); below 1 an EMA.
      eps: ε >= 0, inside the square root.
      keep_max: for β2 < 1, keep the running max in the accumulators.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleBySM3State`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_sm3()
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]  # g/|g| at first
    Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        check_real_params(params, "SM3 takes real parameters only.")
        mu = tuple(tuple(_accumulators(p)) for p in jax.tree.leaves(params))
        return ScaleBySM3State(mu=mu, nu=moments_like(params))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.nu)

        @per_dtype
        def scalars(dt):
            c1, rest1 = ema_weights(b1, dt)
            c2 = cast(b2, dt)
            rest2 = jnp.where(c2 == 1, jnp.ones((), dt), 1.0 - c2)
            return c1, rest1, c2, rest2, cast(eps, dt)

        def step(g, accs, m):
            dt = compute_dtype(g)
            c1, rest1, c2, rest2, ep = scalars(dt)
            gw, nd = g.astype(dt), g.ndim
            if nd == 0:
                low = accs[0].astype(dt)
            else:
                low = functools.reduce(
                    jnp.minimum, [_expanded(a.astype(dt), i, nd) for i, a in enumerate(accs)]
                )
            nu = c2 * low + rest2 * (gw * gw)
            new = []
            for i, a in enumerate(accs):
                others = tuple(j for j in range(nd) if j != i)
                row = jnp.max(nu, axis=others) if others else nu
                if keep_max and nd > 0:  # a scalar's accumulator is ν itself
                    row = jnp.where(c2 < 1, jnp.maximum(a.astype(dt), row), row)
                new.append(_as_stored(row.astype(a.dtype), a))
            u = jnp.where(nu > 0, gw * jax.lax.rsqrt(nu + ep), jnp.zeros((), dt))
            m_new = ema(c1, rest1, m, u)
            return m_new.astype(g.dtype), tuple(new), m_new.astype(m.dtype)

        treedef = jax.tree.structure(updates)
        accs = jax.tree.unflatten(treedef, list(state.mu))  # each leaf's tuple at its place
        out, mu, nu = map_leaves(step, 3, updates, accs, state.nu)
        return out, ScaleBySM3State(mu=tuple(treedef.flatten_up_to(mu)), nu=nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    momentum=unit_interval(),
    **{k: v for k, v in RULES.items() if k != "b1"},
)
def sm3(
    learning_rate: ScalarOrSchedule = 0.1,
    momentum: Scalar = 0.0,
    *,
    b2: Scalar = 1.0,
    eps: Scalar = 1e-30,
    keep_max: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """SM3 (Anil et al. 2019, "Memory-Efficient Adaptive Optimization"), SM3-II.

    ν_t = min_a μ_a + g_t²,  μ_a ← max of ν_t over the other axes,
    Δθ = −α m_t,  m_t = β m_{t−1} + (1−β) g_t/sqrt(ν_t + ε)
    (:func:`jopt.scale_by_sm3`, which also has the EMA form β2 < 1).

    ``chain(scale_by_sm3(momentum, b2, eps), scale_by_learning_rate(learning_rate))``.
    Defaults are pytorch_optimizer's ``SM3`` (α = 0.1, no momentum, ε = 1e-30), which it
    matches in lockstep. optax.sm3 is ``momentum=0.9, eps=1e-8, keep_max=False`` (its
    default momentum 0.9; it takes no scalar leaves).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      momentum: β in [0, 1).
      b2: β2 in (0, 1]: 1 (the paper) sums g²; below 1 an EMA.
      eps: ε >= 0.
      keep_max: for β2 < 1, keep the running max in the accumulators.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.sm3(0.1)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        scale_by_sm3(momentum, b2, eps, keep_max=keep_max), scale_by_learning_rate(learning_rate)
    )
