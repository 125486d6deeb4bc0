"""optax's ``amsgrad`` alias: AMSGrad with optax's arguments, PyTorch's rule by default."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import (
    ScaleByAmsgradState,
    ema_moments,
    init_moments,
    moment_scalars,
    next_step,
)
from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import moments_like, zero_count
from jopt.sharding._leafwise import map_leaves


def amsgrad_moments(
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    eps_root: Scalar,
    mu_dtype: Any | None,
    bias_correction_mu: bool,
    bias_correction_nu: bool,
    max_of_corrected: bool,
) -> optax.GradientTransformationExtraArgs:
    """AMSGrad's direction m̂_t / (sqrt(v̂max_t + ε_root) + ε), from checked arguments.

    ``max_of_corrected=False`` (PyTorch's rule): v_max,t = max(v_max,t−1, v_t), then
    v̂max_t = v_max,t/(1−β2^t). ``max_of_corrected=True`` (optax's rule): v̂max_t =
    max(v̂max_t−1, v_t/(1−β2^t)), the running max of the corrected moment. Without the
    second moment's bias correction the two are the paper's max(v̂max_t−1, v_t).
    """

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, None)
        nu_max = moments_like(params, real=True, signed=False)
        return ScaleByAmsgradState(zero_count(params), mu, nu, nu_max)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            s = moment_scalars(b1_now, b2, eps, count, dt)
            one, real_one = jnp.ones((), dt), jnp.ones((), real_dtype(dt))
            return s._replace(
                bias1=s.bias1 if bias_correction_mu else one,
                bias2=s.bias2 if bias_correction_nu else real_one,
            ), cast(eps_root, real_dtype(dt))

        def step(g, m, v, v_max):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            s, root = scalars(dt)
            m_new, v_new = ema_moments(s, g.astype(dt), m, v)
            old = v_max.astype(v_new.dtype)
            if max_of_corrected:
                v_max_new = stored(jnp.maximum(old, v_new / s.bias2), v_max.dtype)
                v_used = v_max_new
            else:
                v_max_new = stored(jnp.maximum(old, v_new), v_max.dtype)
                v_used = v_max_new / s.bias2
            out = (m_new / s.bias1) / (jnp.sqrt(v_used + root) + s.eps).astype(dt)
            return (
                out.astype(g.dtype),
                write(m_new, m),
                v_new.astype(v.dtype),
                v_max_new.astype(v_max.dtype),
            )

        out, mu, nu, nu_max = map_leaves(
            step, 4, updates, state.mu, state.nu, state.nu_max, elementwise=True
        )
        return out, ScaleByAmsgradState(count, mu, nu, nu_max)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    mu_dtype=state_format(),
    bias_correction_mu=flag(),
    bias_correction_nu=flag(),
    max_of_corrected=flag(),
)
def amsgrad(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    mu_dtype: Any | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    max_of_corrected: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """AMSGrad (Reddi et al. 2018, "On the Convergence of Adam and Beyond"), optax's
    arguments.

    m_t = β1 m_{t−1} + (1−β1) g_t,  v_t = β2 v_{t−1} + (1−β2) g_t²,
    v_max,t = max(v_max,t−1, v_t),
    Δθ = −α (m_t/(1−β1^t)) / (sqrt(v_max,t/(1−β2^t) + ε_root) + ε).

    The default is PyTorch's ``Adam(amsgrad=True)`` (the max of the raw v, then
    corrected: :func:`jopt.adam` with ``amsgrad=True``). optax's ``amsgrad`` keeps the
    max of the corrected v_t/(1−β2^t) instead (``max_of_corrected=True``), which is
    larger early on. The paper's algorithm has no bias corrections
    (``bias_correction_mu=False, bias_correction_nu=False``: then both rules agree).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0 under the root.
      mu_dtype: the dtype m is stored in.
      bias_correction_mu: divide m by 1 − β1^t.
      bias_correction_nu: divide v by 1 − β2^t.
      max_of_corrected: optax's rule, the running max of the corrected v.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose first state is a
      :class:`jopt.ScaleByAmsgradState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.amsgrad(0.1, eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        amsgrad_moments(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            bias_correction_mu,
            bias_correction_nu,
            max_of_corrected,
        ),
        scale_by_learning_rate(learning_rate),
    )
