"""jopt.swa and jopt.averaged_params: the average written out in NumPy (float64), in
lockstep with torch.optim.swa_utils.AveragedModel, and the checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
from tests.support.parity import init_params, loss_jnp
from tests.support.tolerances import tol
from tests.support.trajectory import assert_steps_close

CONFIGS = [(5, 3, None), (0, 1, None), (10, 1, 0.9), (3, 2, 0.3)]
IDS = ["swa-start5-every3", "swa-every-step", "ema0.9-start10", "ema0.3-every2"]


def numpy_swa(theta0, grads, lr, start, every, decay):
    """SGD's iterates θ_t = θ_{t−1} − αg_t and the average after each update: the first
    taken is copied, then θ̄ + (θ_t − θ̄)/(n + 1), or βθ̄ + (1 − β)θ_t with a decay β."""
    theta, avg, n, out = theta0.copy(), theta0.copy(), 0, []
    for t, g in enumerate(grads, start=1):
        theta = theta - lr * g
        if t > start and (t - start) % every == 0:
            if n == 0:
                avg = theta.copy()
            elif decay is None:
                avg = avg + (theta - avg) / (n + 1)
            else:
                avg = decay * avg + (1 - decay) * theta
            n += 1
        out.append((avg.copy(), n))
    return out


@pytest.mark.parametrize("start, every, decay", CONFIGS, ids=IDS)
def test_average_is_its_formula(start, every, decay):
    rng = np.random.default_rng(0)
    theta0, grads = rng.normal(size=4), list(rng.normal(size=(20, 4)))
    expected = numpy_swa(theta0, grads, 0.1, start, every, decay)
    tx = jopt.swa(jopt.sgd(0.1), start=start, every=every, decay=decay)
    params, state = jnp.asarray(theta0), tx.init(jnp.asarray(theta0))
    np.testing.assert_array_equal(jopt.averaged_params(state), theta0)  # a copy to start
    step = jax.jit(tx.update)
    averages, counts = [], []
    for g in grads:
        updates, state = step(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        averages.append(np.asarray(jopt.averaged_params(state)))
        counts.append(int(state[1].n_averaged))
    assert_steps_close(np.stack(averages), np.stack([a for a, _ in expected]))
    assert counts == [n for _, n in expected]
    assert int(state[1].count) == len(grads)


GRAD = jax.jit(jax.grad(loss_jnp))  # compiled once per dtype, shared by the lockstep runs


class Params(torch.nn.Module):
    def __init__(self, values):
        super().__init__()
        for k, v in values.items():
            self.register_parameter(k, torch.nn.Parameter(torch.from_numpy(np.array(v))))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("start, every, decay", CONFIGS, ids=IDS)
def test_average_matches_averaged_model(start, every, decay, dtype):
    # Lockstep: torch's SGD and jopt.sgd (PyTorch's SGD) fed the gradients at jopt's params.
    params = {k: jnp.asarray(v, dtype) for k, v in init_params().items()}
    model = Params({k: np.asarray(v) for k, v in params.items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if decay is None:
        averaged = torch.optim.swa_utils.AveragedModel(model)
    else:
        ema = torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
        averaged = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=ema)
    tx = jopt.swa(jopt.sgd(0.05, momentum=0.9), start=start, every=every, decay=decay)
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        grads = GRAD(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, grads

    worst, taken = 0.0, 0
    for t in range(1, 61):
        params, state, grads = step(params, state)
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
    assert worst <= tol("lockstep", dtype), worst


def test_swa_composes_and_skips_with_apply_if_finite():
    # The average lives in the state: a NaN step skipped by optax.apply_if_finite leaves it.
    tx = optax.apply_if_finite(jopt.swa(jopt.sgd(0.1)), max_consecutive_errors=3)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    _, state = update({"w": jnp.ones(3)}, state, params)
    before = jopt.averaged_params(state)
    _, state = update({"w": jnp.full(3, jnp.nan)}, state, params)
    jopt.testing.assert_trees_close(jopt.averaged_params(state), before)


def test_averaged_params_reads_nested_states_and_says_when_there_is_none():
    tx = optax.chain(optax.clip_by_global_norm(1.0), jopt.swa(jopt.adam(0.1), decay=0.5))
    state = tx.init({"w": jnp.zeros(2)})
    assert jax.tree.structure(jopt.averaged_params(state)) == jax.tree.structure({"w": 0})
    with pytest.raises(ValueError, match="jopt.averaged_params: no parameter average"):
        jopt.averaged_params(jopt.adam(0.1).init({"w": jnp.zeros(2)}))


def test_float16_params_are_averaged_in_float32():
    state = jopt.swa(jopt.sgd(0.1)).init({"h": jnp.ones(2, jnp.float16)})
    assert isinstance(state[1], jopt.AveragedParamsState)
    assert jopt.averaged_params(state)["h"].dtype == jnp.float32


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
