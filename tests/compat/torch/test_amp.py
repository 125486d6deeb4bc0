"""jopt.compat.torch.GradScaler (jopt/compat/torch/_amp.py) against torch.amp.GradScaler on
CPU, step by step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
from tests.support import parity

# F: finite gradients, I: an inf, N: a NaN (recorded pattern; growth_interval=3 below)
PATTERN = "FFFFIFFNFFFFFFFIIFFFFFFFNFFF"


def run_both(pattern, grad_scale=1.0, **kwargs):
    """Steps torch's Adam behind torch's GradScaler and jopt's, fed the same scaled gradients;
    yields (torch, jopt) of (scale, growth tracker, Adam's step count, params) per step."""
    p = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01)
    scaler = torch.amp.GradScaler("cpu", **kwargs)
    ours = jt.GradScaler("cpu", **kwargs)
    tx = ours.wrap(jt.Adam(lr=0.01))
    params = jnp.asarray(p.detach().numpy())
    state = tx.init(params)
    update = jax.jit(tx.update)
    # the first scale() creates torch's scale tensor
    scaler.scale(torch.ones(()))
    for kind in pattern:
        scale = float(ours.get_scale(state))
        assert scale == scaler.get_scale()
        g = grad_scale * np.sin(np.asarray(params) + 1.0).astype(np.float32)
        g[1] = {"F": g[1], "I": np.inf, "N": np.nan}[kind]
        scaled = (g * np.float32(scale)).astype(np.float32)
        p.grad = torch.from_numpy(scaled.copy())
        scaler.step(opt)
        scaler.update()
        updates, state = update(jnp.asarray(scaled), state, params)
        params = optax.apply_updates(params, updates)
        theirs = (
            scaler.get_scale(),
            scaler._get_growth_tracker(),
            int(opt.state[p]["step"]) if opt.state[p] else 0,
            p.detach().numpy().copy(),
        )
        count = int(state.inner_state[0].count)  # jt.Adam: its chain starts with Adam
        yield theirs, (float(state.scale), int(state.growth_tracker), count, np.asarray(params))


def test_scale_sequence_and_skipped_steps_match_torch():
    scales, counts = [], []
    for theirs, ours in run_both(PATTERN, init_scale=2.0**10, growth_interval=3):
        assert ours[:3] == theirs[:3]
        np.testing.assert_allclose(ours[3], theirs[3], rtol=2e-6, atol=1e-7)
        scales.append(ours[0])
        counts.append(ours[2])
    assert max(scales) > 2.0**10 > min(scales)  # it grew and it backed off
    assert counts[-1] == PATTERN.count("F")  # Adam's count skipped the inf/NaN steps


def test_growth_that_overflows_keeps_the_scale():
    steps = list(run_both("FFFFFFIFF", grad_scale=1e-3, init_scale=2.0**127, growth_interval=2))
    for theirs, ours in steps:
        assert ours[:3] == theirs[:3]
    assert steps[1][1][0] == 2.0**127  # the growth to 2**128 overflowed: kept


def test_factors_other_than_powers_of_two_round_as_torch():
    for theirs, ours in run_both(
        "FFIFFFNFFFF", init_scale=1000.0, growth_factor=1.7, backoff_factor=0.3, growth_interval=2
    ):
        assert ours[:3] == theirs[:3]


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_scale_matches_torchs_scale(dtype):
    scaler = torch.amp.GradScaler("cpu", init_scale=3.0**5)
    ours = jt.GradScaler("cpu", init_scale=3.0**5)
    state = ours.wrap(jt.SGD()).init(jnp.zeros(2))
    loss = torch.tensor(0.123, dtype=dtype)
    theirs = scaler.scale(loss)
    scaled = ours.scale(jnp.asarray(loss.numpy()), state)
    assert str(scaled.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert float(scaled) == float(theirs)


def test_disabled_is_the_optimizer_itself():
    tx = jt.SGD(lr=0.1)
    ours = jt.GradScaler(enabled=False)
    wrapped = ours.wrap(tx)
    state = wrapped.init(jnp.zeros(2))
    assert jax.tree.structure(state) == jax.tree.structure(tx.init(jnp.zeros(2)))
    assert float(ours.scale(2.5, state)) == 2.5
    assert float(ours.get_scale(state)) == torch.amp.GradScaler("cpu", enabled=False).get_scale()


def test_contract_and_a_skipped_step_leaves_the_state():
    params = {
        "w": jnp.ones((2, 3), jnp.float32),
        "b": jnp.ones(3, jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (4.0 * p).astype(p.dtype), params)
    tx = jt.GradScaler(init_scale=4.0, growth_interval=2).wrap(jopt.adam(0.1))
    jopt.testing.check_transformation(tx, params, grads)
    state = tx.init(params)
    _, state = tx.update(grads, state, params)
    bad = {**grads, "b": jnp.full(3, jnp.inf, jnp.bfloat16)}
    updates, after = tx.update(bad, state, params)
    assert all(not np.any(np.asarray(u, np.float64)) for u in jax.tree.leaves(updates))
    jopt.testing.assert_trees_close(after.inner_state, state.inner_state)
    assert float(after.scale) == 2.0 and int(after.growth_tracker) == 0


def test_scale_finds_the_state_inside_a_chain():
    scaler = jt.GradScaler(init_scale=8.0)
    tx = optax.chain(optax.clip_by_global_norm(1.0), scaler.wrap(jt.SGD()))
    state = tx.init(jnp.zeros(2))
    assert float(scaler.scale(1.5, state)) == 12.0
    with pytest.raises(ValueError, match="no GradScalerState in this state"):
        scaler.scale(1.5, jt.SGD().init(jnp.zeros(2)))


@pytest.mark.parametrize(
    "kwargs", [dict(growth_factor=1.0), dict(backoff_factor=1.0)], ids=["growth", "backoff"]
)
def test_bad_factors_raise_with_torchs_words(kwargs):
    with pytest.raises(AssertionError) as theirs:  # PyTorch asserts
        torch.amp.GradScaler("cpu", **kwargs)
    with pytest.raises(ValueError) as ours:
        jt.GradScaler(**kwargs)
    assert str(ours.value).startswith("jopt.compat.torch.GradScaler: ")
    assert str(theirs.value).rstrip(".") in str(ours.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(init_scale=0.0), r"init_scale=0.0 is invalid"),
        (dict(growth_interval=0), r"growth_interval=0 is invalid"),
        (dict(enabled=1), r"enabled=1 is invalid"),
        (dict(device=0), r"device=0 is invalid"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=f"jopt.compat.torch.GradScaler: {match}"):
        jt.GradScaler(**kwargs)


def test_readme_snippet_skips_overflowing_float16_steps():
    scope: dict = {}
    exec(compile(parity.readme_block("### Loss scaling: `GradScaler`"), "README", "exec"), scope)
    scaler, step, params, state = scope["scaler"], scope["step"], scope["params"], scope["state"]
    params, state = step(params, state, jnp.ones((3, 4), jnp.float16))
    assert np.all(np.asarray(params["w"]) < np.float16(0.1))  # a step
    assert float(scaler.get_scale(state)) == 2.0**16
    before = params
    params, state = step(params, state, jnp.full((3, 4), 30.0, jnp.float16))
    assert float(scaler.get_scale(state)) == 2.0**15  # the float16 gradients overflowed
    jopt.testing.assert_trees_close(params, before)  # skipped
    assert int(state.inner_state[0].count) == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_wrap_wants_a_transformation(enabled):
    with pytest.raises(
        TypeError, match=r"^jopt.compat.torch.GradScaler.wrap: tx='adam' is invalid"
    ):
        jt.GradScaler(enabled=enabled).wrap("adam")
