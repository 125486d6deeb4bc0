"""ASGD: SGD with a decaying step size η_t and a running average of the iterates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jopt._average import AsgdAverageState, average_step
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    ScaleByScheduleState,
    cast,
    chain,
    check_params,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    init_learning_rate,
    moments_like,
    per_dtype,
    require_params,
    zero_count,
)
from jopt._validation import check_learning_rate, check_nonnegative, check_range


def _scalar_dtype() -> jnp.dtype:
    # η and μ are computed once per update in JAX's default float (float64 under x64), as
    # PyTorch computes them in Python floats and stores them in its default dtype.
    return jnp.dtype(jnp.result_type(float))


def _asgd_step(
    call: str, learning_rate: ScalarOrSchedule, lambd: Scalar, alpha: Scalar
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        check_params(call, params)
        return init_learning_rate(learning_rate, params, counted=True)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "(the step decays them)")
        check_tree(call, updates, params, "the params")
        sdt = _scalar_dtype()
        c = state.count  # updates applied; this is update t = c + 1
        # η_t = α_{t−2} / (1 + λ α_{t−2} (t−1))^a, the rate PyTorch computed after the last
        # step (η_1 = α_0: the formula at c = 0).
        lr = cast(evaluate(learning_rate, jnp.maximum(c - 1, 0)), sdt)
        eta = lr / (1.0 + cast(lambd, sdt) * lr * c.astype(sdt)) ** cast(alpha, sdt)
        keep = 1.0 - cast(lambd, sdt) * eta
        scalars = per_dtype(lambda dt: (cast(eta, dt), cast(keep, dt)))

        def step(g, p):
            dt = compute_dtype(g)
            e, k = scalars(dt)
            pw = p.astype(dt)
            new = pw * k - e * g.astype(dt)  # θ(1 − λη) − ηg, PyTorch's order
            return (new - pw).astype(g.dtype)

        out = jax.tree.map(step, updates, params)
        return out, ScaleByScheduleState(increment(c), eta.astype(sdt))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _asgd_average(call: str, t0: Scalar) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        return AsgdAverageState(zero_count(params), moments_like(call, params))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_tree(call, updates, state.ax)
        sdt = _scalar_dtype()
        c = state.count
        # μ_t = 1 / max(1, t − 1 − t0), μ_1 = 1; μ = 1 copies θ (PyTorch's mu.item() == 1).
        mu = jnp.where(c == 0, 1.0, 1.0 / jnp.maximum(1.0, c.astype(sdt) - cast(t0, sdt)))
        mu_of = per_dtype(lambda dt: cast(mu, dt))

        def mix(a, new, dt):
            return jnp.where(mu == 1.0, new, a + (new - a) * mu_of(dt))

        ax = average_step(call, state.ax, updates, params, mix)
        return updates, AsgdAverageState(increment(c), ax)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def check_asgd(call: str, lambd, alpha, t0) -> None:
    check_nonnegative(call, "lambd", lambd)
    check_nonnegative(call, "alpha", alpha)
    check_range(call, "t0", t0)


def asgd_steps(
    call: str, learning_rate: ScalarOrSchedule, lambd: Scalar, alpha: Scalar, t0: Scalar
) -> list[optax.GradientTransformation]:
    """ASGD's step (learning rate included) and its average, unchecked."""
    return [_asgd_step(call, learning_rate, lambd, alpha), _asgd_average(call, t0)]


def asgd(
    learning_rate: ScalarOrSchedule = 1e-2,
    lambd: Scalar = 1e-4,
    alpha: Scalar = 0.75,
    t0: Scalar = 1e6,
) -> optax.GradientTransformationExtraArgs:
    """Averaged SGD (Polyak & Juditsky 1992), PyTorch's ``ASGD`` arithmetic and defaults.

    θ ← θ(1 − λη_t) − η_t g,
    η_1 = α,  η_{t+1} = α / (1 + λ α t)^a,
    ax ← θ if μ_t = 1 else ax + μ_t (θ − ax),  μ_1 = 1,  μ_{t+1} = 1 / max(1, t − t0).

    α is ``learning_rate``, λ ``lambd``, a ``alpha``. For an integer ``t0``, ax follows θ
    up to update t0 + 2 and is the mean of θ_{t0+2}, …, θ_t after it. The average is in the
    state: read it with :func:`jopt.averaged_params`. ``learning_rate`` may be a schedule:
    η_{t+1} uses the rate of update t, as PyTorch computes η after each step with the lr of
    that step. The state's ``learning_rate`` (:func:`jopt.get_learning_rate`) is the η of
    the last update. The learning rate is inside η, so unlike the ``scale_by_*`` primitives
    this is a whole step; :func:`jopt.compat.torch.ASGD` adds ``weight_decay`` and
    ``maximize`` in front of it. ``update`` needs ``params``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.asgd(0.5, lambd=0.0, t0=0.0)  # a constant η
    >>> params = jnp.array([0.0])
    >>> state = tx.init(params)
    >>> for g in (-2.0, -4.0, -6.0, -2.0):  # params 1, 3, 6, 7
    ...     updates, state = tx.update(jnp.array([g]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> jopt.averaged_params(state)  # μ = 1, 1, 1/2, 1/3: the mean of θ_2, θ_3, θ_4
    Array([5.3333335], dtype=float32)
    """
    call = "jopt.asgd"
    check_learning_rate(call, learning_rate)
    check_asgd(call, lambd, alpha, t0)
    return chain(*asgd_steps(call, learning_rate, lambd, alpha, t0))
