"""jopt.compat.dadaptation in lockstep with dadaptation 3.2 (torch, CPU), fed the same
gradients: the parameters and the global estimate d, step for step."""

from __future__ import annotations

import contextlib
import io

import dadaptation  # pinned in the test extra: a missing reference fails
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jopt.compat.dadaptation as jd
from tests.support import reference_lockstep as lockstep
from tests.support.tolerances import tol

# (class name, its arguments): d0 = 1e-3 lets d grow within the few steps. The first
# gradient is zero: the step is skipped (||s|| = 0) as dadaptation skips it, except where
# dadaptation itself cannot take it (DAdaptSGD divides by the first gradient's norm).
CONFIGS = {
    "adam-defaults": ("DAdaptAdam", {}),
    "adam-l2-bias-correction": (
        "DAdaptAdam",
        dict(d0=1e-3, weight_decay=0.1, use_bias_correction=True),
    ),
    "adam-decoupled-growth": (
        "DAdaptAdam",
        dict(d0=1e-3, weight_decay=0.1, decouple=True, growth_rate=1.5, betas=(0.8, 0.99)),
    ),
    "sgd-defaults": ("DAdaptSGD", {}),
    "sgd-momentum-l2-growth": (
        "DAdaptSGD",
        dict(d0=1e-3, momentum=0.9, weight_decay=0.1, growth_rate=1.5),
    ),
    "adagrad-defaults": ("DAdaptAdaGrad", {}),
    "adagrad-momentum-l2-growth": (
        "DAdaptAdaGrad",
        dict(d0=1e-3, momentum=0.5, weight_decay=0.1, eps=1e-3, growth_rate=1.5),
    ),
    "lion-defaults": ("DAdaptLion", {}),
    "lion-decay": ("DAdaptLion", dict(d0=1e-3, weight_decay=0.1, betas=(0.8, 0.95))),
    "adan-defaults": ("DAdaptAdan", {}),
    "adan-no-prox-growth": (
        "DAdaptAdan",
        dict(d0=1e-3, no_prox=True, growth_rate=1.5, betas=(0.9, 0.9, 0.95)),
    ),
}
ZERO_FIRST = {"DAdaptAdam", "DAdaptAdaGrad", "DAdaptLion", "DAdaptAdan"}


def _run(cls, kwargs, dtype, **options):
    with contextlib.redirect_stdout(io.StringIO()):  # dadaptation prints its decay mode
        return lockstep.run(
            getattr(jd, cls)(**kwargs),
            lambda ps: getattr(dadaptation, cls)(ps, **kwargs),
            dtype,
            steps=8,
            zero_at=(0,) if cls in ZERO_FIRST else (),
            **options,
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_in_lockstep(name, dtype):
    cls, kwargs = CONFIGS[name]
    err, state, opt = _run(cls, kwargs, dtype)
    assert err <= tol("lockstep", dtype), err
    group = opt.param_groups[0]
    assert float(state.estim_lr) == pytest.approx(group["d"], rel=tol("lockstep", dtype))
    assert int(state.steps) == group["k"]
    assert group["d"] > 2 * kwargs.get("d0", 1e-6)  # d moved: its evolution was compared


def test_a_schedule_through_zero():
    # γ = 0 at step 3 (a torch scheduler setting group['lr']): DAdaptAdam skips the step
    def rate(k):
        return 0.0 if k == 3 else 0.5 + 0.1 * k

    def schedule(count):
        return jnp.where(count == 3, 0.0, 0.5 + 0.1 * count.astype(jnp.float64))

    kwargs = dict(d0=1e-3)
    err, state, opt = lockstep.run(
        jd.DAdaptAdam(lr=schedule, **kwargs),
        lambda ps: dadaptation.DAdaptAdam(ps, **kwargs),
        np.float64,
        steps=6,
        lr_at=rate,
    )
    assert err <= tol("lockstep", np.float64)
    assert int(state.steps) == opt.param_groups[0]["k"] == 5


def test_the_check_fails_on_a_perturbed_estimate():
    # the lockstep check sees the estimate started 1 % off
    err, _, _ = lockstep.run(
        jd.DAdaptAdam(d0=1.01e-3),
        lambda ps: dadaptation.DAdaptAdam(ps, d0=1e-3),
        np.float64,
        steps=8,
    )
    assert err > 1e-4


@pytest.mark.parametrize(
    "cls, kwargs, ours, theirs",
    [
        ("DAdaptAdam", dict(lr=0.0), "Invalid learning rate: 0.0", None),
        ("DAdaptAdam", dict(d0=0.0), "Invalid d0 value: 0.0", None),
        ("DAdaptAdam", dict(eps=0.0), "Invalid epsilon value: 0.0", None),
        ("DAdaptAdam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0", None),
        ("DAdaptSGD", dict(d0=0.0), "Invalid d0 value: 0.0", None),
        ("DAdaptAdaGrad", dict(lr=0.0), "lr must be in (0, inf)", "Learning rate 0.0 must be"),
        ("DAdaptAdaGrad", dict(momentum=-0.1), "momentum must be in [0, inf)", "Momentum -0.1"),
        ("DAdaptLion", dict(lr=-1.0), "Invalid learning rate: -1.0", None),
        ("DAdaptAdan", dict(betas=(0.9, 0.9, 1.0)), "Invalid beta parameter at index 2: 1.0", None),
    ],
)
def test_bad_arguments_are_refused_as_dadaptation_refuses_them(cls, kwargs, ours, theirs):
    with pytest.raises(ValueError, match=rf"jopt\.compat\.dadaptation\.{cls}") as err:
        getattr(jd, cls)(**kwargs)
    assert ours in str(err.value)
    with pytest.raises(ValueError) as err:  # the same check (in the same words where it can)
        getattr(dadaptation, cls)([torch.zeros(1)], **kwargs)
    assert (theirs or ours) in str(err.value)
