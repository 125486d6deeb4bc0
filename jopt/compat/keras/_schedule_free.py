"""``keras.optimizers.ScheduleFreeAdamW`` and the point it evaluates at.

The preset maps Keras' arguments onto jopt's schedule-free step (``keras_schedule_free_adamw``,
the learning rate inside z) inside :func:`keras_optimizer` (Keras' base options and its
decoupled decay).
"""

from __future__ import annotations

from typing import Any, Unpack

import optax

from jopt._algorithms.averaging.schedule_free import (
    ScheduleFreeAdamWState,
    eval_point,
    keras_schedule_free_adamw,
)
from jopt._core.checks import Real, checked, integer, nonnegative, unchecked, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)
from jopt.compat.keras._options import find_one, leaf_value, merge_leaves


@keras_preset(
    learning_rate=LEARNING_RATE,
    beta_1=Real(0.0, 1.0, lo_open=True),  # x = (y − (1 − β1)z)/β1 divides by β1
    beta_2=unit_interval(),
    epsilon=nonnegative(),
    warmup_steps=integer(0, traced=True),
    weight_decay=WEIGHT_DECAY,
)
def ScheduleFreeAdamW(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.0025,
    beta_1: Scalar = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-8,
    warmup_steps: int = 0,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.ScheduleFreeAdamW``: the parameters θ are y, the point the
    gradient is taken at; z takes the Adam-scaled steps and x averages z.

    θ ← θ − θλα_t (weight_decay);  α_t ← α_t·min(t/warmup_steps, 1) if warmup_steps;
    v_t = v_{t−1} + (g² − v_{t−1})(1 − β2);
    z_t = z_{t−1} − α_t g / (sqrt(v_t/(1 − β2^t)) + ε);
    x_{t−1} = (θ − (1 − β1) z_{t−1}) / β1,  x_t = (1 − 1/t) x_{t−1} + z_t / t;
    θ ← (1 − β1) z_t + β1 x_t.

    z starts at the initial parameters. Train at θ; evaluate at x, which
    :func:`schedule_free_eval_params` reads from the state (Keras itself never swaps
    x in: ``model.evaluate`` uses θ).

    Args:
      learning_rate: α >= 0, a schedule ``count -> α``, or a function of no arguments.
      beta_1: β1 in (0, 1].
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      warmup_steps: the steps of the linear warmup of α, an integer >= 0 (0: none).
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.ScheduleFreeAdamW(learning_rate=0.1, beta_1=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([3.0]), state, params)  # z: 1 − 0.1, x = z
    >>> params + updates, jk.schedule_free_eval_params(state, params + updates)
    (Array([0.9], dtype=float32), Array([0.9], dtype=float32))
    """
    step = keras_schedule_free_adamw(learning_rate, beta_1, beta_2, epsilon, warmup_steps)
    return keras_optimizer(step, learning_rate, weight_decay, options)


@checked(
    state=unchecked("any pytree holding a ScheduleFreeAdamW state; searched by type"),
    params=unchecked("the parameters; matched to z by path"),
)
def schedule_free_eval_params(state: Any, params: Any) -> Any:
    """The point to evaluate a :func:`ScheduleFreeAdamW` model at:
    x = (θ − (1 − β1)·z) / β1, θ the current (training) parameters.

    ``state`` is any state holding the optimizer's (bare, in a chain, a
    :func:`MultiOptimizer` group, or a Flax ``nnx.Optimizer``'s ``opt_state``); leaves
    that another optimizer steps keep their values. Evaluate on the result, keep
    training on ``params``.

    Args:
      state: the optimizer state, or any pytree holding it.
      params: the current (training) parameters θ.

    Returns:
      x, a tree with the structure of ``params``.

    >>> import jax.numpy as jnp, optax
    >>> import jopt.compat.keras as jk
    >>> tx = jk.ScheduleFreeAdamW(learning_rate=0.125, epsilon=0.0)
    >>> params = jnp.array([1.0, -1.0])
    >>> state = tx.init(params)
    >>> for _ in range(3):  # a constant gradient: z moves 0.125 a step, x averages z
    ...     updates, state = tx.update(jnp.array([1.0, -1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> jk.schedule_free_eval_params(state, params)  # mean(0.875, 0.75, 0.625)
    Array([ 0.75, -0.75], dtype=float32)
    """
    found = find_one(state, ScheduleFreeAdamWState, "ScheduleFreeAdamW state")

    def source(s: ScheduleFreeAdamWState) -> tuple[Any, Any]:
        def at(p: Any, z: Any) -> Any:
            return eval_point(leaf_value(p), leaf_value(z), leaf_value(s.beta_1))

        return s.z, at

    return merge_leaves(params, [source(s) for s in found])
