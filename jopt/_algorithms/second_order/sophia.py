"""Sophia (Liu et al. 2023): a clipped step preconditioned by a Hessian-diagonal EMA, and
Hutchinson's estimator of that diagonal (Sophia-H)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    choice,
    flag,
    integer,
    learning_rate,
    nonnegative,
    optional,
    positive,
    unchecked,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.elementwise import ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import state_format
from jopt._core.state import (
    check_real_params,
    check_tree,
    increment,
    moments_like,
    require_params,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class HutchinsonState(NamedTuple):
    """The PRNG key of :func:`jopt.hutchinson_estimator_diag_hessian`.

    Args:
      key: the key the next probe vectors are drawn from.

    >>> import jax, jopt
    >>> state = jopt.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(3)).init(None)
    >>> state.key
    Array([0, 3], dtype=uint32)
    """

    key: jax.Array


@checked(
    random_seed=unchecked("a jax.random key array: jax.random.split checks it"),
    distribution=choice("gaussian", "rademacher"),
    num_samples=integer(1),
)
def hutchinson_estimator_diag_hessian(
    random_seed: jax.Array | None = None,
    *,
    distribution: str = "gaussian",
    num_samples: int = 1,
) -> optax.GradientTransformationExtraArgs:
    """Hutchinson's estimate of the Hessian diagonal: ĥ = (1/S) Σ_s z_s ⊙ (∇²f z_s).

    Each call splits its key, draws S probe vectors z (``distribution``: standard normal,
    the paper's and pytorch_optimizer's SophiaH default; or Rademacher ±1, optax's) and
    takes the Hessian-vector products by forward-over-reverse differentiation of
    ``obj_fn``. ``update(updates, state, params, obj_fn=...)`` (optax's convention; the
    updates are ignored): ``obj_fn(params) -> loss`` is the scalar objective. With
    ``distribution="rademacher"`` and ``num_samples=1`` the draws are optax's
    ``hutchinson_estimator_diag_hessian``'s, number for number.

    Args:
      random_seed: the initial key (``jax.random.PRNGKey(0)`` when None).
      distribution: ``"gaussian"`` or ``"rademacher"``.
      num_samples: S >= 1, the probes averaged per call.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.HutchinsonState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.hutchinson_estimator_diag_hessian(distribution="rademacher")
    >>> f = lambda p: jnp.sum(jnp.array([1.0, 3.0]) * p**2)  # diagonal Hessian: exact
    >>> tx.update(None, tx.init(None), jnp.zeros(2), obj_fn=f)[0]
    Array([2., 6.], dtype=float32)
    """
    draw = jax.random.rademacher if distribution == "rademacher" else jax.random.normal

    def init_fn(params):
        del params
        return HutchinsonState(key=jax.random.PRNGKey(0) if random_seed is None else random_seed)

    def probe(key, params, obj_fn):
        z = optax.tree.random_like(key, params, draw, dtype=jnp.float32)
        z = jax.tree.map(lambda v, p: v.astype(p.dtype), z, params)
        hz = jax.jvp(jax.grad(obj_fn), (params,), (z,))[1]
        return jax.tree.map(lambda h, v: h * v, hz, z)

    def update_fn(updates, state, params=None, *, obj_fn=None, **extra_args):
        del updates, extra_args
        require_params(params, "(the Hessian is taken at the params)")
        if obj_fn is None:
            raise ValueError(
                "hutchinson_estimator_diag_hessian: update() needs obj_fn=, the objective "
                "params -> loss whose Hessian diagonal is estimated."
            )
        key, subkey = jax.random.split(state.key)
        if num_samples == 1:  # optax's draw
            out = probe(subkey, params, obj_fn)
        else:
            keys = jax.random.split(subkey, num_samples)
            samples = jax.vmap(lambda k: probe(k, params, obj_fn))(keys)
            out = jax.tree.map(lambda x: jnp.mean(x, axis=0), samples)
        return out, HutchinsonState(key=key)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class SophiaState(NamedTuple):
    """Sophia's state (:func:`jopt.scale_by_sophia`), optax.contrib.SophiaState's fields.

    Args:
      count: int32, steps taken.
      mu: the gradient EMA m.
      nu: the Hessian-diagonal EMA h.
      hessian_fn_state: the Hessian-diagonal estimator's state.

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.scale_by_sophia().init(jnp.zeros(2))
    >>> state.count, state.nu
    (Array(0, dtype=int32), Array([0., 0.], dtype=float32))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam
    hessian_fn_state: Any


class _Scalars(NamedTuple):
    b1: jax.Array
    rest1: jax.Array
    bias1: jax.Array  # 1 − β1^t (1 without bias correction)
    b2: jax.Array
    rest2: jax.Array
    eps: jax.Array
    gamma: jax.Array
    clip: jax.Array


RULES = dict(
    b1=unit_interval(),
    b2=unit_interval(),
    eps=nonnegative(),
    gamma=positive(),
    clip_threshold=optional(positive()),
    update_interval=integer(1, traced=True),
    hessian_diagonal_fn=unchecked(
        "a gradient transformation returning the Hessian-diagonal estimate; None: "
        "hutchinson_estimator_diag_hessian()"
    ),
    mu_dtype=state_format(),
    verbose=flag(),
    print_win_rate_every_n_steps=integer(0),
    bias_correction=flag(),
    refresh_first=flag(),
)


@checked(**RULES)
def scale_by_sophia(
    b1: Scalar = 0.96,
    b2: Scalar = 0.99,
    eps: Scalar = 1e-12,
    gamma: Scalar = 0.01,
    clip_threshold: Scalar | None = 1.0,
    update_interval: Any = 10,
    hessian_diagonal_fn: optax.GradientTransformation | None = None,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
    *,
    bias_correction: bool = False,
    refresh_first: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """Sophia's direction clip(m_t / max(γ h_t, ε), c), with h refreshed every k steps.

    m_t = β1 m_{t−1} + (1−β1) g_t,
    h_t = β2 h_{t−k} + (1−β2) ĥ_t  at t = 1, k + 1, 2k + 1, … (else h_t = h_{t−1}),
    u_t = clip(m_t / max(γ h_t, ε), −c, c),

    ĥ_t from ``hessian_diagonal_fn`` (default :func:`jopt.hutchinson_estimator_diag_hessian`),
    called as ``update(g, state, params, **extra_args)``: pass its arguments to this
    update (``obj_fn=`` for Hutchinson's), as optax's. The paper's Algorithm 3 and
    pytorch_optimizer's SophiaH: h is refreshed before the step that uses it, m has no
    bias correction. optax.contrib's variant (``bias_correction=True,
    refresh_first=False``): the step divides m_t/(1−β1^t) by the h of the previous
    steps (so its first step divides by ε), and refreshes h after it.

    Args:
      b1: β1 in [0, 1), the gradient EMA's decay.
      b2: β2 in [0, 1), the Hessian EMA's decay (per refresh).
      eps: ε >= 0, the floor of γh.
      gamma: γ > 0, the Hessian's scale.
      clip_threshold: c > 0, the clip, or None (no clip).
      update_interval: k >= 1, the steps between Hessian refreshes.
      hessian_diagonal_fn: the estimator of ĥ (None: Hutchinson's, Gaussian probes).
      mu_dtype: the dtype m is stored in.
      verbose: print the share of unclipped coordinates (the "win rate") every
        ``print_win_rate_every_n_steps`` steps, as optax's.
      print_win_rate_every_n_steps: n >= 0 (with ``verbose``).
      bias_correction: divide m by 1 − β1^t (optax's).
      refresh_first: refresh h before the step (the paper's); False: after (optax's).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a :class:`jopt.SophiaState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_sophia(b1=0.5, b2=0.5, gamma=1.0, clip_threshold=None,
    ...     hessian_diagonal_fn=jopt.hutchinson_estimator_diag_hessian(distribution="rademacher"))
    >>> f = lambda p: jnp.sum(jnp.array([1.0, 4.0]) * p**2)  # ĥ = (2, 8)
    >>> p = jnp.array([1.0, 1.0])
    >>> tx.update(jnp.array([2.0, 8.0]), tx.init(p), p, obj_fn=f)[0]  # 0.5 g / (0.5 ĥ)
    Array([1., 1.], dtype=float32)
    """
    hess = optax.with_extra_args_support(
        hutchinson_estimator_diag_hessian() if hessian_diagonal_fn is None else hessian_diagonal_fn
    )

    def init_fn(params):
        check_real_params(params, "Sophia's clip and max need real numbers.")
        return SophiaState(
            count=zero_count(params),
            mu=moments_like(params, mu_dtype),
            nu=moments_like(params),
            hessian_fn_state=hess.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        require_params(params, "(the Hessian estimate is taken at the params)")
        check_tree(updates, state.mu)
        count = increment(state.count)
        refresh = state.count % jnp.asarray(update_interval, jnp.int32) == 0

        def refreshed(hs, nu):
            hdiag, hs = hess.update(updates, hs, params, **extra_args)
            nu = jax.tree.map(
                lambda n, h: ema(
                    *ema_weights(b2, compute_dtype(n)), n, h.astype(compute_dtype(n))
                ).astype(n.dtype),
                nu,
                hdiag,
            )
            return hs, nu

        def kept(hs, nu):
            return hs, nu

        hess_state, nu_new = jax.lax.cond(
            refresh, refreshed, kept, state.hessian_fn_state, state.nu
        )
        nu_used = nu_new if refresh_first else state.nu

        @per_dtype
        def scalars(dt):
            c1, rest1 = ema_weights(b1, dt)
            c2, rest2 = ema_weights(b2, dt)
            bias1 = 1.0 - c1 ** count.astype(dt) if bias_correction else jnp.ones((), dt)
            big = jnp.asarray(jnp.inf, dt)
            clip = big if clip_threshold is None else cast(clip_threshold, dt)
            return _Scalars(c1, rest1, bias1, c2, rest2, cast(eps, dt), cast(gamma, dt), clip)

        def step(g, m, h):
            dt = compute_dtype(g)
            s = scalars(dt)
            m_new = ema(s.b1, s.rest1, m, g.astype(dt))
            u = (m_new / s.bias1) / jnp.maximum(s.gamma * h.astype(dt), s.eps)
            u = jnp.clip(u, -s.clip, s.clip)
            return u.astype(g.dtype), m_new.astype(m.dtype)

        out, mu = map_leaves(step, 2, updates, state.mu, nu_used)
        if verbose and clip_threshold is not None:
            leaves = jax.tree.leaves(out)
            wins = sum(jnp.sum(jnp.abs(u) < cast(clip_threshold, u.dtype)) for u in leaves)
            rate = wins / sum(u.size for u in leaves)
            every = max(print_win_rate_every_n_steps, 1)
            jax.lax.cond(
                count % every == 0,
                lambda: jax.debug.print("Sophia optimizer win rate: {}", rate),
                lambda: None,
            )
        return out, SophiaState(count=count, mu=mu, nu=nu_new, hessian_fn_state=hess_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    **{k: v for k, v in RULES.items() if k not in ("bias_correction", "refresh_first")},
    weight_decay=optional(nonnegative(schedule=True)),
    weight_decay_mask=MASK,
    bias_correction=flag(),
    refresh_first=flag(),
)
def sophia(
    learning_rate: ScalarOrSchedule = 6e-4,
    b1: Scalar = 0.96,
    b2: Scalar = 0.99,
    eps: Scalar = 1e-12,
    weight_decay: ScalarOrSchedule | None = None,
    weight_decay_mask: Any | None = None,
    gamma: Scalar = 0.01,
    clip_threshold: Scalar | None = 1.0,
    update_interval: Any = 10,
    hessian_diagonal_fn: optax.GradientTransformation | None = None,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
    *,
    bias_correction: bool = False,
    refresh_first: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """Sophia (Liu et al. 2023, "Sophia: A Scalable Stochastic Second-order Optimizer for
    Language Model Pre-training"), Sophia-H by default; optax.contrib.sophia's signature.

    Δθ = −α (clip(m_t / max(γ h_t, ε), −c, c) + λθ), with m, h as in
    :func:`jopt.scale_by_sophia`. ``update(g, state, params, obj_fn=f)``: ``f(params) ->
    loss`` for the Hessian estimate (any other keyword goes to ``hessian_diagonal_fn``).

    Defaults: the paper's γ = 0.01, c = 1, k = 10, ε = 1e-12 and pytorch_optimizer's
    SophiaH β = (0.96, 0.99), no decay, Gaussian probes, α = 6e-4 (its lr = 6e-2 with
    p = 0.01: the same step, as clip(m/max(γh, ε), 1) = clip(m/max(h, ε/γ), γ)/γ).
    pytorch_optimizer's ``SophiaH(lr=a, betas, weight_decay=λ, p=q, eps=e)`` is exactly
    ``sophia(a, *betas, e, λ, gamma=1, clip_threshold=q)``. optax's variant:
    ``bias_correction=True, refresh_first=False`` with Rademacher probes.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1).
      b2: β2 in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0 (decoupled, lr-scaled), or None (off, the default).
      weight_decay_mask: the leaves that decay (as optax's).
      gamma: γ > 0.
      clip_threshold: c > 0, or None.
      update_interval: k >= 1.
      hessian_diagonal_fn: the estimator (None: Gaussian Hutchinson).
      mu_dtype: the dtype m is stored in.
      verbose: print the win rate (see :func:`jopt.scale_by_sophia`).
      print_win_rate_every_n_steps: n >= 0.
      bias_correction: optax's bias-corrected m.
      refresh_first: the paper's order (False: optax's).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax, jax.numpy as jnp, jopt
    >>> f = lambda p: jnp.sum((p - 1.0) ** 2)
    >>> hutchinson = jopt.hutchinson_estimator_diag_hessian(distribution="rademacher")
    >>> tx = jopt.sophia(0.1, gamma=1.0, hessian_diagonal_fn=hutchinson)
    >>> p = jnp.zeros(2)
    >>> u, state = tx.update(jax.grad(f)(p), tx.init(p), p, obj_fn=f)
    >>> u  # m = 0.04 g = −0.08, h = 0.01 ĥ = 0.02: −α clip(−4, 1)
    Array([0.1, 0.1], dtype=float32)
    """
    decay = optional_decay(weight_decay, weight_decay_mask)
    return chain(
        scale_by_sophia(
            b1,
            b2,
            eps,
            gamma,
            clip_threshold,
            update_interval,
            hessian_diagonal_fn,
            mu_dtype,
            verbose,
            print_win_rate_every_n_steps,
            bias_correction=bias_correction,
            refresh_first=refresh_first,
        ),
        *decay,
        scale_by_learning_rate(learning_rate),
    )
