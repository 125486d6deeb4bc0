"""jopt.swa against torch.optim.swa_utils.AveragedModel, in lockstep with the same params."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from tests.support.parity import init_params, loss_jnp

import jopt
import jopt.compat.torch as jt

TOL = {np.float64: 1e-10, np.float32: 2e-5}


class Params(torch.nn.Module):
    def __init__(self, values):
        super().__init__()
        for k, v in values.items():
            self.register_parameter(k, torch.nn.Parameter(torch.from_numpy(np.array(v))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "start, every, decay",
    [(5, 3, None), (0, 1, None), (10, 1, 0.9), (3, 2, 0.3)],
    ids=["swa-start5-every3", "swa-every-step", "ema0.9-start10", "ema0.3-every2"],
)
def test_average_matches_averaged_model(start, every, decay, dtype):
    params = {k: jnp.asarray(v, dtype) for k, v in init_params().items()}
    model = Params({k: np.asarray(v) for k, v in params.items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if decay is None:
        averaged = torch.optim.swa_utils.AveragedModel(model)
    else:
        ema = torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
        averaged = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=ema)
    tx = jopt.swa(jt.SGD(lr=0.05, momentum=0.9), start=start, every=every, decay=decay)
    state = tx.init(params)
    grad_fn = jax.jit(jax.grad(loss_jnp))
    update = jax.jit(tx.update)
    worst, taken = 0.0, 0
    for t in range(1, 61):
        grads = grad_fn(params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for k, p in model.named_parameters():
            p.grad = torch.from_numpy(np.array(grads[k]))
        opt.step()
        if t > start and (t - start) % every == 0:
            averaged.update_parameters(model)
            taken += 1
        ours = jopt.averaged_params(state)
        for k, p in averaged.module.named_parameters():
            theirs = p.detach().numpy()
            assert ours[k].dtype == dtype
            err = np.max(np.abs(np.asarray(ours[k], np.float64) - theirs))
            worst = max(worst, err / np.max(np.abs(theirs)))
    assert int(state[1].n_averaged) == taken == int(averaged.n_averaged) > 3
    assert worst <= TOL[dtype], worst


def test_swa_composes_and_skips_with_apply_if_finite():
    # The average lives in the state: a NaN step skipped by optax.apply_if_finite leaves it.
    tx = optax.apply_if_finite(jopt.swa(jopt.sgd(0.1)), max_consecutive_errors=3)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    _, state = tx.update({"w": jnp.ones(3)}, state, params)
    before = jopt.averaged_params(state)
    _, state = tx.update({"w": jnp.full(3, jnp.nan)}, state, params)
    jopt.testing.assert_trees_close(jopt.averaged_params(state), before)


def test_averaged_params_reads_nested_states_and_says_when_there_is_none():
    tx = optax.chain(optax.clip_by_global_norm(1.0), jopt.swa(jopt.adam(0.1), decay=0.5))
    state = tx.init({"w": jnp.zeros(2)})
    assert jax.tree.structure(jopt.averaged_params(state)) == jax.tree.structure({"w": 0})
    with pytest.raises(ValueError, match="jopt.averaged_params: no parameter average"):
        jopt.averaged_params(jopt.adam(0.1).init({"w": jnp.zeros(2)}))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(start=-1), r"jopt.swa: start=-1 is invalid; start must be an integer >= 0"),
        (dict(every=0), r"jopt.swa: every=0 is invalid"),
        (dict(every=1.5), r"every=1.5"),
        (dict(decay=1.5), r"jopt.swa: decay=1.5 is invalid; decay must be in \[0, 1\]"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        jopt.swa(jopt.sgd(0.1), **kwargs)


@pytest.mark.parametrize("tx", ["sgd", None, jopt.sgd])
def test_swa_wants_a_transformation(tx):
    with pytest.raises(
        TypeError, match=r"^jopt.swa: tx=.* is invalid; tx must be an optax gradient"
    ):
        jopt.swa(tx)


def test_swa_needs_params():
    tx = jopt.swa(jopt.sgd(0.1))
    with pytest.raises(ValueError, match="jopt.swa: update\\(\\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
