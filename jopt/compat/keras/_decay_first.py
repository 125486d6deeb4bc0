"""Keras applies ``weight_decay`` to the variables before the optimizer's step
(``base_optimizer._apply_weight_decay``): a step that reads θ (Adafactor's RMS(θ),
Lamb's ‖θ‖) reads the decayed θ − θλα_t. :func:`keras_optimizer` adds the decay itself
to the update; this hands the decayed parameters to such a step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._base import ScalarOrSchedule, requested
from jopt._weight_decay import _decoupled_weight_decay


class ReadsDecayedParamsState(NamedTuple):
    inner: Any  # the step's own state
    decay: Any  # the decay's (the rate it read), kept after the step's own


def reads_decayed_params(
    call: str,
    steps: list[optax.GradientTransformation],
    learning_rate: ScalarOrSchedule,
    weight_decay: Any,
) -> list[optax.GradientTransformation]:
    """``steps`` run on the parameters θ − θλα_t (Keras' order); unchanged without decay."""
    if not requested(weight_decay):
        return steps
    inner = optax.chain(*steps)
    decay = _decoupled_weight_decay(call, learning_rate, weight_decay)

    def init_fn(params):
        return ReadsDecayedParamsState(inner.init(params), decay.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        zeros = jax.tree.map(jnp.zeros_like, updates)
        minus_decay, decay_state = decay.update(zeros, state.decay, params)
        decayed = jax.tree.map(
            lambda p, d: (p.astype(d.dtype) + d).astype(p.dtype), params, minus_decay
        )
        updates, inner_state = inner.update(updates, state.inner, decayed, **extra_args)
        return updates, ReadsDecayedParamsState(inner_state, decay_state)

    return [optax.GradientTransformationExtraArgs(init_fn, update_fn)]
