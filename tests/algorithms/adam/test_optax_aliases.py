"""optax's Adam-family aliases: jopt.amsgrad (torch's AMSGrad by default, optax's and the
paper's as options), jopt.adamaxw and jopt.nadamw (against optax and the formulas in
NumPy), and their argument checks."""

from __future__ import annotations

import numpy as np
import optax
import pytest
import torch

import jopt
from tests.algorithms.adam.lockstep import (
    assert_lockstep,
    jopt_path,
    optax_path,
    problem,
    torch_path,
)
from tests.support.trajectory import assert_steps_close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_amsgrad_is_torchs(dtype):
    params, grads = problem()
    theirs = torch_path(
        lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-6, amsgrad=True),
        params,
        grads,
        dtype,
    )
    ours = jopt_path(jopt.amsgrad(0.05, 0.8, 0.9, 1e-6), params, grads, dtype)
    assert_lockstep(ours, theirs, dtype)


def test_amsgrad_max_of_corrected_is_optaxs():
    params, grads = problem()
    ours = jopt.amsgrad(0.05, 0.8, 0.9, eps_root=1e-4, max_of_corrected=True)
    theirs = optax.amsgrad(0.05, 0.8, 0.9, eps_root=1e-4)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


@pytest.mark.parametrize("max_of_corrected", [False, True])
def test_amsgrad_without_corrections_is_the_papers(max_of_corrected):
    # Reddi et al. (2018), Algorithm 2 with constant β1 and α
    params, grads = problem()
    lr, b1, b2, eps = 0.05, 0.8, 0.9, 1e-6
    theta = {k: v.copy() for k, v in params.items()}
    m, v, vmax = ({k: np.zeros_like(x) for k, x in params.items()} for _ in range(3))
    theirs = []
    for gs in grads:
        for k, g in gs.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            vmax[k] = np.maximum(vmax[k], v[k])
            theta[k] = theta[k] - lr * m[k] / (np.sqrt(vmax[k]) + eps)
        theirs.append({k: x.copy() for k, x in theta.items()})
    tx = jopt.amsgrad(
        lr,
        b1,
        b2,
        eps,
        bias_correction_mu=False,
        bias_correction_nu=False,
        max_of_corrected=max_of_corrected,
    )
    assert_steps_close(jopt_path(tx, params, grads, np.float64), theirs, "formula")


def test_adamaxw_is_optaxs_and_adamax_with_decoupled_decay():
    params, grads = problem()
    lr, b1, b2, eps, wd = 0.05, 0.8, 0.9, 1e-6, 0.1
    ours = jopt_path(jopt.adamaxw(lr, b1, b2, eps, wd), params, grads, np.float64)
    theirs = optax_path(optax.adamaxw(lr, b1, b2, eps, wd), params, grads, np.float64)
    assert_lockstep(ours, theirs, np.float64)
    theta = {k: v.copy() for k, v in params.items()}
    m, u = ({k: np.zeros_like(x) for k, x in params.items()} for _ in range(2))
    formula = []
    for t, gs in enumerate(grads, start=1):
        for k, g in gs.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            u[k] = np.maximum(b2 * u[k], np.abs(g) + eps)
            theta[k] = theta[k] - lr * (m[k] / ((1 - b1**t) * u[k]) + wd * theta[k])
        formula.append({k: x.copy() for k, x in theta.items()})
    assert_steps_close(ours, formula, "formula")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nadamw_is_dozats_nadam_with_decoupled_decay(dtype):
    params, grads = problem()
    lr, b1, b2, eps, wd = 0.05, 0.8, 0.9, 1e-6, 0.1
    theta = {k: v.copy() for k, v in params.items()}
    m, v = ({k: np.zeros_like(x) for k, x in params.items()} for _ in range(2))
    theirs = []
    for t, gs in enumerate(grads, start=1):
        for k, g in gs.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            m_hat = b1 * m[k] / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
            v_hat = v[k] / (1 - b2**t)
            theta[k] = theta[k] - lr * (m_hat / (np.sqrt(v_hat) + eps) + wd * theta[k])
        theirs.append({k: x.copy() for k, x in theta.items()})
    ours = jopt_path(jopt.nadamw(lr, b1, b2, eps, weight_decay=wd), params, grads, dtype)
    assert_steps_close(ours, theirs, "lockstep", dtype)


def test_nadamw_is_optaxs():
    params, grads = problem()
    ours = jopt.nadamw(0.05, eps_root=1e-4, weight_decay=0.1)
    theirs = optax.nadamw(0.05, eps_root=1e-4, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_arguments_name_the_call():
    with pytest.raises(ValueError, match=r"jopt.amsgrad: b1=1.0 is invalid"):
        jopt.amsgrad(b1=1.0)
    with pytest.raises(ValueError, match=r"jopt.adamaxw: weight_decay=-1.0 is invalid"):
        jopt.adamaxw(weight_decay=-1.0)
    with pytest.raises(ValueError, match=r"jopt.nadamw: eps_root=-1.0 is invalid"):
        jopt.nadamw(eps_root=-1.0)
