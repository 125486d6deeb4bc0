"""jopt.compat.prodigyopt.Prodigy in lockstep with prodigyopt 1.1.2's Prodigy (torch, CPU),
fed the same gradients: the parameters and the global estimate d, step for step."""

from __future__ import annotations

import contextlib
import io

import jax.numpy as jnp
import numpy as np
import prodigyopt  # pinned in the test extra: a missing reference fails
import pytest
import torch

import jopt.compat.prodigyopt as jp
from tests.support import reference_lockstep as lockstep
from tests.support.tolerances import tol

# d0 = 1e-3 lets d grow within the few steps; the first gradient is zero, so the first
# step is skipped (||s||₁ = 0) as prodigyopt skips it.
CONFIGS = {
    "defaults": {},
    "d0": dict(d0=1e-3),
    "l2-bias-correction": dict(d0=1e-3, weight_decay=0.1, decouple=False, use_bias_correction=True),
    "beta1-0-safeguard-growth-slice": dict(
        betas=(0.0, 0.99),
        beta3=0.9,
        d0=1e-3,
        d_coef=2.0,
        weight_decay=0.05,
        safeguard_warmup=True,
        growth_rate=1.5,
        slice_p=3,
    ),
}


def _run(kwargs, dtype, **options):
    with contextlib.redirect_stdout(io.StringIO()):  # prodigyopt prints its decay mode
        return lockstep.run(
            jp.Prodigy(**kwargs),
            lambda ps: prodigyopt.Prodigy(ps, **kwargs),
            dtype,
            steps=8,
            zero_at=(0,),
            **options,
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_prodigy_in_lockstep(name, dtype):
    err, state, opt = _run(CONFIGS[name], dtype)
    assert err <= tol("lockstep", dtype), err
    group, mine = opt.param_groups[0], state[0]
    assert float(mine.estim_lr) == pytest.approx(group["d"], rel=tol("lockstep", dtype))
    assert float(mine.estim_lr_max) == pytest.approx(group["d_max"], rel=tol("lockstep", dtype))
    assert int(mine.steps) == group["k"]
    if "weight_decay" not in CONFIGS[name] or CONFIGS[name].get("decouple", True):
        assert group["k"] == 7  # the zero-gradient step was skipped, and did not count
    if name != "defaults":
        assert group["d"] > 5 * group["d0"]  # d moved: its evolution was compared


def test_a_schedule_through_zero():
    # γ = 0 at step 3 (a torch scheduler setting group['lr']): prodigyopt skips the step
    def rate(k):
        return 0.0 if k == 3 else 0.5 + 0.1 * k

    def schedule(count):
        return jnp.where(count == 3, 0.0, 0.5 + 0.1 * count.astype(jnp.float64))

    kwargs = dict(d0=1e-3)
    err, state, opt = lockstep.run(
        jp.Prodigy(lr=schedule, **kwargs),
        lambda ps: prodigyopt.Prodigy(ps, **kwargs),
        np.float64,
        steps=6,
        lr_at=rate,
    )
    assert err <= tol("lockstep", np.float64)
    assert int(state[0].steps) == opt.param_groups[0]["k"] == 5


def test_the_check_fails_on_a_perturbed_estimate():
    # the lockstep check sees a 1 % change of the estimate's coefficient
    kwargs = CONFIGS["d0"]
    err, _, _ = lockstep.run(
        jp.Prodigy(**{**kwargs, "d_coef": 1.01}),
        lambda ps: prodigyopt.Prodigy(ps, **kwargs),
        np.float64,
        steps=8,
    )
    assert err > 1e-4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=0.0), "Invalid learning rate: 0.0; lr must be in (0, inf)"),
        (dict(d0=-1.0), "Invalid d0 value: -1.0"),
        (dict(eps=0.0), "Invalid epsilon value: 0.0"),
        (dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ],
)
def test_bad_arguments_are_refused_as_prodigyopt_refuses_them(kwargs, message):
    with pytest.raises(ValueError, match=r"jopt\.compat\.prodigyopt\.Prodigy") as err:
        jp.Prodigy(**kwargs)
    assert message in str(err.value)
    with pytest.raises(ValueError, match=message.split(";")[0].replace("(", r"\(")):
        prodigyopt.Prodigy([torch.zeros(1)], **kwargs)  # the same check, the same words
