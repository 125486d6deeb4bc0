"""jopt.add_decayed_weights and jopt.decoupled_weight_decay against their formulas written
out in NumPy (float64): constant and scheduled λ and α, masks, the states, the params."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 6
RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=3)}
GRADS = [{k: RNG.normal(size=v.shape) for k, v in PARAMS.items()} for _ in range(STEPS)]
MASK = {"w": True, "b": False}


def wd_schedule(count):
    return 0.1 * 0.5 ** count.astype(jnp.float64)


def lr_schedule(count):
    return 0.2 / (1.0 + count.astype(jnp.float64))


def np_add_decayed(wd, mask=None):
    """u_t = g_t + λ_t θ (θ fixed here), on the masked leaves only."""
    return [
        {k: g + (wd(t) if callable(wd) else wd) * PARAMS[k] * (mask is None or mask[k])
         for k, g in grads.items()}
        for t, grads in enumerate(GRADS)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "tx, expected",
    [
        (jopt.add_decayed_weights(0.3), np_add_decayed(0.3)),
        (jopt.add_decayed_weights(wd_schedule), np_add_decayed(lambda t: 0.1 * 0.5**t)),
        (jopt.add_decayed_weights(0.3, MASK), np_add_decayed(0.3, MASK)),
        (jopt.add_decayed_weights(0.3, lambda p: MASK), np_add_decayed(0.3, MASK)),
    ],
    ids=["constant", "schedule", "mask-tree", "mask-function"],
)
def test_add_decayed_weights_is_its_formula(tx, expected):
    assert_steps_close(trajectory.updates(tx, GRADS, PARAMS), expected)


def np_decoupled(lr, wd, mask=None):
    """u_t = g_t − α_t λ_t θ (θ fixed here), on the masked leaves only."""
    out = []
    for t, grads in enumerate(GRADS):
        a, w = (lr(t) if callable(lr) else lr), (wd(t) if callable(wd) else wd)
        out.append({k: g - a * w * PARAMS[k] * (mask is None or mask[k]) for k, g in grads.items()})
    return out


@pytest.mark.parametrize(
    "tx, expected",
    [
        (jopt.decoupled_weight_decay(0.2, 0.3), np_decoupled(0.2, 0.3)),
        (
            jopt.decoupled_weight_decay(lr_schedule, wd_schedule),
            np_decoupled(lambda t: 0.2 / (1 + t), lambda t: 0.1 * 0.5**t),
        ),
        (jopt.decoupled_weight_decay(0.2, 0.3, MASK), np_decoupled(0.2, 0.3, MASK)),
    ],
    ids=["constant", "schedules", "mask"],
)
def test_decoupled_weight_decay_is_its_formula(tx, expected):
    assert_steps_close(trajectory.updates(tx, GRADS, PARAMS), expected)


def test_states():
    params = {"w": jnp.zeros(3)}
    assert jopt.add_decayed_weights(0.1).init(params) == optax.EmptyState()
    state = jopt.add_decayed_weights(lambda c: 0.1).init(params)
    assert isinstance(state, jopt.AddDecayedWeightsState) and state.count.dtype == jnp.int32
    _, state = jopt.add_decayed_weights(lambda c: 0.1).update(params, state, params)
    assert int(state.count) == 1
    # decoupled_weight_decay records the rate it applied, as scale_by_learning_rate does
    tx = jopt.decoupled_weight_decay(lr_schedule, 0.5)
    state = tx.init(params)
    for _ in range(3):
        _, state = tx.update(params, state, params)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.2 / 3)


@pytest.mark.parametrize(
    "tx", [jopt.add_decayed_weights(0.1), jopt.decoupled_weight_decay(0.1, 0.1)]
)
def test_needs_params_of_the_updates_structure(tx):
    with pytest.raises(ValueError, match=r"update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    with pytest.raises(ValueError, match=r"(?s)gradients: .*'w'.*params: .*'b'"):
        tx.update({"w": jnp.ones(2)}, tx.init(params), params)


BAD = [
    (jopt.add_decayed_weights, dict(weight_decay=-1.0), r"^jopt.add_decayed_weights: weight_decay=-1.0"),
    (jopt.decoupled_weight_decay, dict(learning_rate=-0.1, weight_decay=0.1), r"^jopt.decoupled_weight_decay: learning_rate=-0.1"),
    (jopt.decoupled_weight_decay, dict(learning_rate=0.1, weight_decay=float("nan")), r"weight_decay=nan"),
]  # fmt: skip


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
