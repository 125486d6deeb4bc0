"""ASGD: SGD with a decaying step size η_t and a running average of the iterates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.averaging.average import AsgdAverageState, average_step
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, real
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import ScaleByScheduleState, init_learning_rate
from jopt._core.state import (
    check_params,
    check_tree,
    check_update_params,
    evaluate,
    increment,
    moments_like,
    zero_count,
)

# The rules of ASGD's own hyperparameters, shared with jopt.compat.torch.ASGD.
ASGD_RULES = dict(lambd=nonnegative(), alpha=nonnegative(), t0=real())


def _scalar_dtype() -> jnp.dtype:
    # η and μ are computed once per update in JAX's default float (float64 under x64), as
    # PyTorch computes them in Python floats and stores them in its default dtype.
    return jnp.dtype(jnp.result_type(float))


def asgd_step(
    learning_rate: ScalarOrSchedule, lambd: Scalar, alpha: Scalar
) -> optax.GradientTransformationExtraArgs:
    """ASGD's step from checked arguments, its learning rate included:
    θ ← θ(1 − λη_t) − η_t g, η_1 = α, η_{t+1} = α / (1 + λ α t)^a (see :func:`jopt.asgd`).

    The state is a :class:`jopt.ScaleByScheduleState` recording η_t; ``update`` needs
    ``params``. :func:`jopt.compat.torch.ASGD` runs it on the real view of complex
    parameters, apart from the average (:func:`asgd_average`).
    """

    def init_fn(params):
        check_params(params)
        return init_learning_rate(learning_rate, params, counted=True)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the step decays them)")
        sdt = _scalar_dtype()
        c = state.count  # updates applied; this is update t = c + 1
        # η_t = α_{t−2} / (1 + λ α_{t−2} (t−1))^a, the rate PyTorch computed after the last
        # step (η_1 = α_0: the formula at c = 0).
        rate = evaluate(learning_rate, jnp.maximum(c - 1, 0), "the learning-rate schedule")
        lr = cast(rate, sdt)
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


def asgd_average(t0: Scalar) -> optax.GradientTransformationExtraArgs:
    """ASGD's average ax of the parameters after each update, from a checked ``t0``:
    ax ← θ if μ_t = 1 else ax + μ_t (θ − ax), μ_1 = 1, μ_{t+1} = 1 / max(1, t − t0).

    The updates pass unchanged; the state is an :class:`jopt.AsgdAverageState` (read it
    with :func:`jopt.averaged_params`); ``update`` needs ``params``.
    """

    def init_fn(params):
        return AsgdAverageState(zero_count(params), moments_like(params))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_tree(updates, state.ax)
        sdt = _scalar_dtype()
        c = state.count
        # μ_t = 1 / max(1, t − 1 − t0), μ_1 = 1; μ = 1 copies θ (PyTorch's mu.item() == 1).
        mu = jnp.where(c == 0, 1.0, 1.0 / jnp.maximum(1.0, c.astype(sdt) - cast(t0, sdt)))
        mu_of = per_dtype(lambda dt: cast(mu, dt))

        def mix(a: jax.Array, new: jax.Array, dt: jnp.dtype) -> jax.Array:
            return jnp.where(mu == 1.0, new, a + (new - a) * mu_of(dt))

        ax = average_step(state.ax, updates, params, mix)
        return updates, AsgdAverageState(increment(c), ax)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **ASGD_RULES)
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

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      lambd: λ >= 0, the decay of η (and of θ).
      alpha: a >= 0, the power of η's decay.
      t0: the update after which averaging starts (a real number).

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByScheduleState, AsgdAverageState)``.

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
    return chain(asgd_step(learning_rate, lambd, alpha), asgd_average(t0))
