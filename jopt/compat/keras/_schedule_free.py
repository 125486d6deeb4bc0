"""``keras.optimizers.ScheduleFreeAdamW`` and the point it evaluates at."""

from __future__ import annotations

from typing import Any, Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._schedule_free import ScheduleFreeAdamWState, eval_point, schedule_free_adamw
from jopt._validation import check_count, check_nonnegative, check_range, check_unit
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)
from jopt.compat.keras._options import find_states, leaf_value, merge_leaves


@with_options
def ScheduleFreeAdamW(  # noqa: N802
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

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.ScheduleFreeAdamW(learning_rate=0.1, beta_1=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([3.0]), state, params)  # z: 1 − 0.1, x = z
    >>> params + updates, jk.schedule_free_eval_params(state, params + updates)
    (Array([0.9], dtype=float32), Array([0.9], dtype=float32))
    """
    call = "jopt.compat.keras.ScheduleFreeAdamW"
    lr = keras_learning_rate(call, learning_rate)
    check_range(call, "beta_1", beta_1, 0.0, 1.0, lo_open=True)
    check_unit(call, "beta_2", beta_2)
    check_nonnegative(call, "epsilon", epsilon)
    check_count(call, "warmup_steps", warmup_steps, 0)
    check_weight_decay(call, weight_decay)
    step = schedule_free_adamw(call, lr, beta_1, beta_2, epsilon, warmup_steps)
    return keras_optimizer(call, [step], lr, weight_decay, dict(options))


def schedule_free_eval_params(state: Any, params: Any) -> Any:
    """The point to evaluate a :func:`ScheduleFreeAdamW` model at:
    x = (θ − (1 − β1)·z) / β1, θ the current (training) parameters.

    ``state`` is any state holding the optimizer's (bare, in a chain, a
    :func:`MultiOptimizer` group, or a Flax ``nnx.Optimizer``'s ``opt_state``); leaves
    that another optimizer steps keep their values. Evaluate on the result, keep
    training on ``params``.

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
    where = "jopt.compat.keras.schedule_free_eval_params"
    found = find_states(state, ScheduleFreeAdamWState, "ScheduleFreeAdamW state", where)

    def source(s):
        return s.z, lambda p, z: eval_point(leaf_value(p), leaf_value(z), leaf_value(s.beta_1))

    return merge_leaves(params, [source(s) for s in found])
