"""jopt.lookahead in lockstep with pytorch_optimizer's Lookahead (around torch's SGD and
Adam: fast and slow weights every step), with optax.lookahead, and its own contract."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from pytorch_optimizer import Lookahead

import jopt
from tests.support import pto_lockstep
from tests.support.trajectory import assert_steps_close, stack

STEPS = 11


def run(tx, params, gs, params_cls=jopt.LookaheadParams):
    """(fast, slow) after each step of ``tx`` fed ``gs`` (one jitted step)."""
    params = params_cls.init_synced(jax.tree.map(jnp.asarray, params))
    state = tx.init(params)

    @jax.jit
    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    path = []
    for g in gs:
        params, state = step(params, state, jax.tree.map(jnp.asarray, g))
        path.append({"fast": params.fast, "slow": jopt.lookahead_eval_params(params)})
    return stack(path), state


def slow_weights(opt, ts):
    return {
        "slow": {
            k: opt.state[t]["slow_params"].numpy().copy() for k, t in zip("bmsw", ts, strict=True)
        }
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("inner", ["sgd", "adam"])
def test_lookahead_matches_pytorch_optimizer(dtype, inner):
    k, alpha = 4, 0.3
    params = {key: v for key, v in sorted(pto_lockstep.tree(0).items())}  # keys b, m, s, w
    p0 = pto_lockstep.cast(params, dtype)
    gs = [pto_lockstep.cast(g, dtype) for g in pto_lockstep.grads(STEPS)]
    if inner == "sgd":
        fast = jopt.sgd(0.05, momentum=0.9)
        make_inner = lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)  # noqa: E731
    else:
        fast = jopt.adam(0.05)
        make_inner = lambda ps: torch.optim.Adam(ps, lr=0.05)  # noqa: E731
    ours, _ = run(jopt.lookahead(fast, k, alpha), p0, gs)
    theirs = pto_lockstep.torch_path(
        lambda ps: Lookahead(make_inner(ps), k=k, alpha=alpha), p0, gs, dtype, slow_weights
    )
    theirs = [{"fast": {key: r[key] for key in params}, "slow": r["slow"]} for r in theirs]
    assert_steps_close(ours, theirs, "lockstep", dtype)


def test_defaults_are_pytorch_optimizers():
    # k = 5, α = 0.5: the slow weights move after steps 5 and 10
    params = pto_lockstep.tree(1)
    gs = pto_lockstep.grads(STEPS)
    ours, _ = run(jopt.lookahead(jopt.sgd(0.1)), params, gs)
    theta, phi, theirs = dict(params), dict(params), []
    for t, g in enumerate(gs, start=1):
        phi = {key: phi[key] - 0.1 * g[key] for key in phi}
        if t % 5 == 0:
            theta = {key: theta[key] + 0.5 * (phi[key] - theta[key]) for key in phi}
            phi = dict(theta)
        theirs.append({"fast": phi, "slow": theta})
    assert_steps_close(ours, theirs)


@pytest.mark.parametrize("reset_state", [False, True])
def test_matches_optax_lookahead(reset_state):
    params, gs = pto_lockstep.tree(2), pto_lockstep.grads(STEPS)
    ours, state = run(jopt.lookahead(jopt.sgd(0.05, 0.9), 3, 0.4, reset_state), params, gs)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = run(
            optax.lookahead(optax.sgd(0.05, 0.9), 3, 0.4, reset_state),
            params,
            gs,
            optax.LookaheadParams,
        )
    assert_steps_close(ours, theirs, "rounding")
    assert isinstance(state, jopt.LookaheadState) and int(state.steps_since_sync) == STEPS % 3


def test_contract():
    tx = jopt.lookahead(jopt.adam(0.1), 2)
    params = jopt.LookaheadParams.init_synced({"w": jnp.ones(3, jnp.float32)})
    state = tx.init(params)
    u, _ = jax.jit(tx.update)({"w": jnp.ones(3, jnp.float32)}, state, params)
    assert isinstance(u, jopt.LookaheadParams) and u.slow["w"].dtype == jnp.float32
    # optax's LookaheadParams come back as optax's; init also takes the fast params alone
    op = optax.LookaheadParams.init_synced({"w": jnp.ones(3, jnp.float32)})
    assert isinstance(tx.update({"w": jnp.ones(3)}, tx.init(op.fast), op)[0], optax.LookaheadParams)
    with pytest.raises(TypeError, match=r"jopt\.lookahead: .*needs params as a LookaheadParams"):
        tx.update({"w": jnp.ones(3)}, state, {"w": jnp.ones(3)})
    with pytest.raises(TypeError, match=r"jopt\.lookahead_eval_params: .*LookaheadParams"):
        jopt.lookahead_eval_params({"w": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"jopt\.lookahead: sync_period=0 .*>= 1|sync_period"):
        jopt.lookahead(jopt.sgd(0.1), 0)
    with pytest.raises(ValueError, match=r"jopt\.lookahead: slow_step_size=1\.5 .*\[0, 1\]"):
        jopt.lookahead(jopt.sgd(0.1), 2, 1.5)
