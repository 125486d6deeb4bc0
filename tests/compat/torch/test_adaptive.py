"""jopt.compat.torch.Adagrad, RMSprop and Adadelta (jopt/compat/torch/_adaptive.py) against
torch.optim: lockstep trajectories, torch's argument checks, Adagrad's lr_decay."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import jopt
import jopt.compat.torch as jt
from tests.support import parity

CASES = parity.torch_cases("adaptive")
QUICK = parity.select(parity.TORCH_QUICK, CASES)
SLOW = parity.select(parity.TORCH_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_torch(case, dtype, torch_quick):
    parity.check(torch_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_torch(case, dtype, torch_slow):
    parity.check(torch_slow, case, dtype)


BAD = [
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(weight_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-0.1)),
    ("Adagrad", dict(eps=-1e-10)),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(weight_decay=-0.1)),
    ("RMSprop", dict(alpha=-0.1)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)


def test_stricter_than_torch_where_torch_would_diverge():
    # torch accepts alpha >= 1 (the square average then never forgets, or goes negative)
    with pytest.raises(ValueError, match=r"Invalid alpha value: 1.0; alpha must be in \[0, 1\)"):
        jt.RMSprop(alpha=1.0)


def test_lr_decay_is_recorded_as_the_learning_rate():
    tx = jt.Adagrad(lr=0.1, lr_decay=1.0)
    state = tx.init(jnp.zeros(2))
    for _ in range(3):
        _, state = tx.update(jnp.ones(2), state)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.1 / (1 + 2 * 1.0))


def test_lr_decay_meets_the_contracts():
    # Not in the registry: its recorded learning rate is the decayed one, not the schedule's.
    params = {
        "w": jnp.ones((2, 3), jnp.float32),
        "b": jnp.ones(3, jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), params)
    jopt.testing.check_transformation(jt.Adagrad(0.1, lr_decay=0.5), params, grads)
    jopt.testing.check_vmap(lambda lr: jt.Adagrad(lr, lr_decay=0.5), params, grads, [0.1, 0.2])
