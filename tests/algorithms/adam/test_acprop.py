"""jopt.acprop against its formula written out in NumPy and against
optax.contrib.acprop (no reference package implements ACProp), and its argument checks."""

from __future__ import annotations

import numpy as np
import optax.contrib
import pytest

import jopt
from tests.algorithms.adam.lockstep import assert_lockstep, jopt_path, optax_path, problem
from tests.support.trajectory import assert_steps_close


def formula(params, grads, lr, b1, b2, eps, eps_root, wd):
    theta = {k: v.copy() for k, v in params.items()}
    m, s = ({k: np.zeros_like(x) for k, x in params.items()} for _ in range(2))
    path = []
    for t, gs in enumerate(grads, start=1):
        for k, g in gs.items():
            s_hat = 1.0 if t == 1 else s[k] / (1 - b2 ** (t - 1))  # s up to step t − 1
            step = g / (np.sqrt(s_hat) + eps)
            s[k] = b2 * s[k] + (1 - b2) * (g - m[k]) ** 2 + eps_root
            m[k] = b1 * m[k] + (1 - b1) * g
            theta[k] = theta[k] - lr * (step + wd * theta[k])
        path.append({k: x.copy() for k, x in theta.items()})
    return path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_acprop_is_its_formula(dtype):
    params, grads = problem()
    hp = dict(lr=0.05, b1=0.8, b2=0.9, eps=1e-6, eps_root=1e-8, wd=0.1)
    tx = jopt.acprop(0.05, 0.8, 0.9, 1e-6, 1e-8, weight_decay=0.1)
    theirs = formula(params, grads, **hp)
    assert_steps_close(jopt_path(tx, params, grads, dtype), theirs, "lockstep", dtype)


def test_acprop_is_optaxs():
    params, grads = problem()
    ours = jopt_path(jopt.acprop(0.05, weight_decay=0.1), params, grads, np.float64)
    theirs = optax_path(optax.contrib.acprop(0.05, weight_decay=0.1), params, grads, np.float64)
    assert_lockstep(ours, theirs, np.float64)


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.acprop: eps=-1.0 is invalid"):
        jopt.acprop(eps=-1.0)
