"""jopt.sign_sgd, jopt.signum and jopt.scale_by_sign in lockstep with pytorch_optimizer's
SignSGD (momentum 0 and > 0, both decays), with optax's, and against the paper in NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from pytorch_optimizer import SignSGD

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decouple", [True, False])
def test_sign_sgd_and_signum_match_pytorch_optimizer(dtype, decouple):
    lr, wd = 0.05, 0.3
    pto_lockstep.assert_lockstep(
        jopt.sign_sgd(lr, wd, weight_decouple=decouple),
        lambda ps: SignSGD(ps, lr=lr, momentum=0.0, weight_decay=wd, weight_decouple=decouple),
        dtype,
    )
    pto_lockstep.assert_lockstep(
        jopt.signum(lr, 0.8, weight_decay=wd, weight_decouple=decouple),
        lambda ps: SignSGD(ps, lr=lr, momentum=0.8, weight_decay=wd, weight_decouple=decouple),
        dtype,
    )


def test_defaults_are_pytorch_optimizers():
    pto_lockstep.assert_lockstep(jopt.signum(), lambda ps: SignSGD(ps), np.float64)


def test_signum_is_the_papers_algorithm():
    # Bernstein et al. 2018, Algorithm 3 (Signum): m ← βm + (1−β)g, θ ← θ − α sign(m)
    params = pto_lockstep.tree(1)
    gs = pto_lockstep.grads(8)
    lr, beta = 0.01, 0.7
    theta, m, theirs = {k: v.copy() for k, v in params.items()}, dict.fromkeys(params, 0.0), []
    for g in gs:
        for k in theta:
            m[k] = beta * m[k] + (1 - beta) * g[k]
            theta[k] = theta[k] - lr * np.sign(m[k])
        theirs.append({k: x.copy() for k, x in theta.items()})
    assert_steps_close(trajectory.fed(jopt.signum(lr, beta), params, gs)[0], theirs)


def test_match_optax_exactly():
    params, gs = pto_lockstep.tree(2), pto_lockstep.grads(8)
    with jax.numpy_dtype_promotion("standard"):
        for ours, theirs in [
            (jopt.sign_sgd(0.1), optax.sign_sgd(0.1)),
            (jopt.signum(0.1, 0.6), optax.signum(0.1, 0.6)),
        ]:
            a, _ = trajectory.fed(ours, params, gs)
            b, _ = trajectory.fed(theirs, params, gs)
            assert_steps_close(a, b, "rounding")


def test_scale_by_sign_on_complex_and_zero():
    g = jnp.array([3.0 + 4.0j, 0.0, -2.0j])
    tx = jopt.scale_by_sign()
    np.testing.assert_allclose(tx.update(g, tx.init(g))[0], [0.6 + 0.8j, 0.0, -1.0j])


def test_signum_state_and_bad_arguments():
    state = jopt.signum(accumulator_dtype=jnp.bfloat16).init({"w": jnp.zeros(3)})
    assert isinstance(state[0], jopt.ScaleByLionState) and state[0].mu["w"].dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"jopt\.signum: beta=1\.5 .*\[0, 1\]"):
        jopt.signum(0.1, beta=1.5)
    with pytest.raises(ValueError, match=r"jopt\.sign_sgd: learning_rate=-1"):
        jopt.sign_sgd(-1.0)


def test_signum_at_zero_beta_is_sign_sgd():
    # the registry's β = 0 property leaves Signum out (its twin is signSGD, not −αg)
    params, gs = pto_lockstep.tree(3), pto_lockstep.grads(5)
    ours, _ = trajectory.fed(jopt.signum(0.1, jnp.asarray(0.0)), params, gs)
    assert_steps_close(ours, trajectory.fed(jopt.sign_sgd(0.1), params, gs)[0], "rounding")
