"""jopt.compat.torch.Rprop (jopt/compat/torch/_sign.py) against torch.optim.Rprop: lockstep
trajectories and torch's argument checks (the order of etas and of step_sizes included)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
from tests.support import parity

CASES = parity.torch_cases("sign")
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
    ("Rprop", dict(lr=-1.0)),
    ("Rprop", dict(etas=(1.5, 1.2))),
    ("Rprop", dict(etas=(0.5, 0.9))),
    ("Rprop", dict(etas=(0.0, 1.2))),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)


# Rprop: argument checks, schedules refused, complex parameters in lockstep

BAD_JOPT = [
    (jt.Rprop, dict(etas=(0.5,)), r"jopt.compat.torch.Rprop: etas must be a pair"),
    (jt.Rprop, dict(step_sizes=(1.0, 0.1)), r"step_sizes\[0\]=1.0 is larger than step_sizes\[1\]"),
]


@pytest.mark.parametrize(
    "factory, kwargs, match", BAD_JOPT, ids=[str(i) for i in range(len(BAD_JOPT))]
)
def test_bad_arguments_jopt_refuses_too(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)


def test_a_schedule_is_refused_not_ignored():
    # PyTorch reads Rprop's lr once, to fill the step sizes: a scheduler does nothing there.
    with pytest.raises(TypeError, match="initial step size .* pass a number"):
        jt.Rprop(jopt.schedules.step_lr(0.1, step_size=10))


def test_complex_params_step_as_torchs():
    # jt.Rprop steps the real and imaginary parts separately, as torch does
    params = jnp.array([1.0 + 2.0j, -1.0j])
    p = torch.tensor([1.0 + 2.0j, -1.0j], dtype=torch.complex128, requires_grad=True)
    opt = torch.optim.Rprop([p], lr=0.1)
    tx = jt.Rprop(lr=0.1)
    state = tx.init(params)
    for g in ([0.5 - 1.0j, 2.0 + 0.5j], [1.0 + 1.0j, -1.0 + 0.5j], [0.2 - 0.1j, 3.0 + 1j]):
        p.grad = torch.tensor(g, dtype=torch.complex128)
        opt.step()
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params), p.detach().numpy(), rtol=0, atol=1e-15)
