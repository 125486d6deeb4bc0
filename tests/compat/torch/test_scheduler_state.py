"""jopt/compat/torch/_scheduler_state.py: torch scheduler state dicts into a preset's state
(load_scheduler_state) and out of it (scheduler_state_dict), for every torch scheduler
class over three parameter groups, each direction continued in lockstep with torch."""

from __future__ import annotations

import copy
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

import jopt
import jopt.compat.torch as jt
import jopt.schedules as s
from jopt._algorithms.sgd.sgd import ScaleByCountedTraceState
from jopt._core.state import find_states
from jopt.compat.torch._scheduler_state import load_scheduler_state
from tests.compat.torch.test_groups import (
    CLASSES,
    LRS,
    PLATEAU_METRICS,
    TINY,
    sgd_groups,
    torch_sgd_groups,
)

K, MORE = 37, 50  # torch's (or jopt's) steps before the state moves, the steps after


def torch_continue(opt, sched, steps, metrics=None):
    """The rates of ``steps`` more steps of a running torch optimizer and scheduler."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's step(0) of its children
        for t in range(steps):
            out.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step(*([] if metrics is None else [metrics[t]]))
    return np.asarray(out)


def make(make_torch, opt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_torch(opt)


@functools.cache
def runner(tx, steps, plateau=False):
    """Jitted: ``steps`` updates from a state (zero gradients; with ``plateau``, one metric
    per update), the state after them and each update's rates."""

    def step(state, metric):
        extra = {"value": metric} if plateau else {}
        _, state = tx.update(jax.tree.map(jnp.zeros_like, TINY), state, TINY, **extra)
        return state, jopt.get_learning_rate(state)

    def run(state, metrics):
        return jax.lax.scan(step, state, metrics, length=steps)

    return jax.jit(run)


def jopt_run(tx, state, steps, metrics=None):
    plateau = metrics is not None
    metrics = jnp.asarray(metrics, jnp.float64) if plateau else None
    state, rates = runner(tx, steps, plateau)(state, metrics)
    return state, np.asarray(rates)


def torch_loaded(make_torch, sd):
    """A fresh torch optimizer and scheduler (the same arguments) with ``sd`` loaded, the
    groups' rates set as the optimizer's own state dict would set them."""
    opt = torch_sgd_groups()
    sched = make(make_torch, opt)
    sched.load_state_dict(copy.deepcopy(sd))
    for group, lr in zip(opt.param_groups, sd["_last_lr"], strict=True):
        group["lr"] = lr
    return opt, sched


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_scheduler_state_moves_both_ways_mid_run(name):
    make_torch, ours = CLASSES[name]
    tx = sgd_groups(ours)
    # torch -> jopt: torch's K steps, its state loaded into a fresh jopt state
    opt = torch_sgd_groups()
    sched = make(make_torch, opt)
    torch_continue(opt, sched, K)
    state = load_scheduler_state(tx, tx.init(TINY), sched.state_dict())
    _, got = jopt_run(tx, state, MORE)
    np.testing.assert_allclose(got, torch_continue(opt, sched, MORE), rtol=1e-10, atol=1e-15)
    # jopt -> torch: jopt's K steps, its state loaded into a fresh torch scheduler
    state, _ = jopt_run(tx, tx.init(TINY), K)
    sd = jt.scheduler_state_dict(tx, state)
    assert sd.get("last_epoch", K) == K
    _, got = jopt_run(tx, state, MORE)
    want = torch_continue(*torch_loaded(make_torch, sd), MORE)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)
    assert len(set(np.round(want[:, 0], 14))) > 1  # the rate changes after the move


PLATEAU = dict(
    factor=0.5, patience=1, cooldown=2, threshold=0.01, eps=1e-4, min_lr=[2e-3, 5e-4, 0.0]
)


@pytest.mark.parametrize("k", [17, 19], ids=["in_cooldown", "a_bad_epoch"])
def test_a_plateau_state_moves_both_ways_mid_run(k):
    metrics = np.asarray(PLATEAU_METRICS)
    more = len(metrics) - k
    tx = sgd_groups(jt.ReduceLROnPlateau(**PLATEAU))

    def make_torch(opt):
        return tl.ReduceLROnPlateau(opt, **PLATEAU)

    opt = torch_sgd_groups()
    sched = make_torch(opt)
    torch_continue(opt, sched, k, metrics)
    sd = sched.state_dict()
    assert sd["num_bad_epochs"] > 0 or sd["cooldown_counter"] > 0  # mid-plateau
    assert sd["_last_lr"] != list(LRS)  # some cut made
    state = load_scheduler_state(tx, tx.init(TINY), sd)
    _, got = jopt_run(tx, state, more, metrics[k:])
    want = torch_continue(opt, sched, more, metrics[k:])
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert len({tuple(r) for r in want}) >= 3  # cuts after the move too

    state, _ = jopt_run(tx, tx.init(TINY), k, metrics[:k])
    exported = jt.scheduler_state_dict(tx, state)
    _same(exported, sd, "ReduceLROnPlateau")  # torch's own state at step k, key by key
    assert set(exported) == set(sd)  # all of it
    _, got = jopt_run(tx, state, more, metrics[k:])
    want = torch_continue(*torch_loaded(make_torch, exported), more, metrics[k:])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_loading_sets_the_count_of_each_groups_momentum_schedule():
    cycle = dict(step_size_up=5, step_size_down=7)
    moms = [(0.8, 0.9), (0.7, 0.95), (0.85, 0.88)]
    tx = jt.SGD(
        LRS[2],
        momentum=s.cyclic_momentum(*moms[2], **cycle),
        param_groups=[
            {"params": "a", "lr": LRS[0], "momentum": s.cyclic_momentum(*moms[0], **cycle)},
            {"params": "b", "lr": LRS[1], "momentum": s.cyclic_momentum(*moms[1], **cycle)},
        ],
        lr_scheduler=lambda lr: s.cyclic_lr(0.01, 0.1, **cycle),
    )
    opt = torch_sgd_groups(momentum=0.5)
    sched = tl.CyclicLR(
        opt,
        0.01,
        0.1,
        base_momentum=[b for b, _ in moms],
        max_momentum=[m for _, m in moms],
        **cycle,
    )
    torch_continue(opt, sched, K)
    state = load_scheduler_state(tx, tx.init(TINY), sched.state_dict())
    traces = find_states(state, (ScaleByCountedTraceState,))
    assert [int(t.count) for t in traces] == [K] * 3
    preset = jt._groups.preset_of(tx)
    got = [float(g["momentum"](K)) for g in preset.groups]
    np.testing.assert_allclose(got, [g["momentum"] for g in opt.param_groups], rtol=1e-12)
    # and out: a fresh torch CyclicLR given jopt's state cycles the momentum on from K
    fresh = torch_sgd_groups(momentum=0.5)
    sched = tl.CyclicLR(
        fresh,
        0.01,
        0.1,
        base_momentum=[b for b, _ in moms],
        max_momentum=[m for _, m in moms],
        **cycle,
    )
    sched.load_state_dict(jt.scheduler_state_dict(tx, state))
    fresh.step()
    sched.step()
    got = [float(g["momentum"](K + 1)) for g in preset.groups]
    np.testing.assert_allclose(got, [g["momentum"] for g in fresh.param_groups], rtol=1e-12)


def test_a_momentum_count_that_is_the_optimizers_step_must_already_agree():
    betas = (s.one_cycle_momentum(total_steps=100), 0.999)
    tx = jt.Adam(0.1, betas=betas, lr_scheduler=lambda lr: s.one_cycle_lr(0.1, total_steps=100))
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = tl.OneCycleLR(opt, 0.1, total_steps=100)
    torch_continue(opt, sched, K)
    with pytest.raises(ValueError, match=r"ScaleByAdamState.count = 0, the optimizer's own step"):
        load_scheduler_state(tx, tx.init(jnp.zeros(1)), sched.state_dict())


def _torch_state(name, steps=K):
    opt = torch_sgd_groups()
    if name == "StepLR_gamma":  # StepLR with another gamma than CLASSES'
        sched = tl.StepLR(opt, step_size=7, gamma=0.5)
    else:
        sched = make(CLASSES[name][0], opt)
    torch_continue(opt, sched, steps)
    return sched.state_dict()


def _without(sd, key):
    return {k: v for k, v in sd.items() if k != key}


@pytest.mark.parametrize(
    "name, sd, match",
    [
        (
            "StepLR",
            lambda: _torch_state("ExponentialLR"),
            r"is a ExponentialLR's state .* is StepLR",
        ),
        ("StepLR", lambda: _without(_torch_state("StepLR"), "last_epoch"), r"no 'last_epoch'"),
        ("StepLR", lambda: _without(_torch_state("StepLR"), "_step_count"), r"no '_step_count'"),
        ("StepLR", lambda: _without(_torch_state("StepLR"), "base_lrs"), r"no 'base_lrs'"),
        ("StepLR", lambda: {**_torch_state("StepLR"), "_last_lr": [0.1, 0.2]}, r"lists 2 rates"),
        ("StepLR", lambda: {**_torch_state("StepLR"), "last_epoch": 2.0}, r"must be an integer"),
        ("StepLR", lambda: _torch_state("StepLR_gamma"), r"\['_last_lr'\]\[0\]=.* other arguments"),
        ("StepLR", lambda: tl.ReduceLROnPlateau(torch_sgd_groups()).state_dict(), r"ReduceLROnPl"),
        ("SequentialLR", lambda: {**_torch_state("SequentialLR"), "_milestones": [20]}, r"milest"),
        (
            "ChainedScheduler",
            lambda: {**_torch_state("ChainedScheduler"), "_schedulers": [{"last_epoch": 3}]},
            r"holds 1 schedulers, and tx's ChainedScheduler has 3",
        ),
        ("StepLR", lambda: [("last_epoch", 3)], r"must be a dict"),
    ],
)
def test_a_scheduler_state_of_another_kind_is_refused(name, sd, match):
    tx = sgd_groups(CLASSES[name][1])
    with pytest.raises((TypeError, ValueError), match=match):
        load_scheduler_state(tx, tx.init(TINY), sd())


def test_a_plateau_state_with_other_arguments_or_keys_is_refused():
    tx = sgd_groups(jt.ReduceLROnPlateau(**PLATEAU))
    opt = torch_sgd_groups()
    sd = tl.ReduceLROnPlateau(opt, **PLATEAU).state_dict()
    load_scheduler_state(tx, tx.init(TINY), sd)  # the right one loads
    with pytest.raises(ValueError, match=r"\['factor'\]=0.1, and tx's ReduceLROnPlateau has"):
        load_scheduler_state(tx, tx.init(TINY), {**sd, "factor": 0.1})
    with pytest.raises(ValueError, match=r"\['min_lrs'\]="):
        load_scheduler_state(tx, tx.init(TINY), {**sd, "min_lrs": [0.0] * 3})
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "_last_lr"):
        with pytest.raises(ValueError, match=rf"has no '{key}'"):
            load_scheduler_state(tx, tx.init(TINY), _without(sd, key))
    with pytest.raises(ValueError, match=r"is another scheduler's state"):
        load_scheduler_state(tx, tx.init(TINY), _torch_state("StepLR"))


def test_scheduler_state_dict_names_itself_and_refuses_a_tx_without_a_scheduler():
    tx = jt.SGD(0.1)
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.scheduler_state_dict: tx is a"):
        jt.scheduler_state_dict(tx, tx.init(TINY))
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.scheduler_state_dict: tx=.*not"):
        jt.scheduler_state_dict(jopt.sgd(0.1), None)
    tx = sgd_groups(CLASSES["StepLR"][1])
    with pytest.raises(ValueError, match=r"opt_state holds no parameter groups"):
        jt.scheduler_state_dict(tx, jopt.sgd(0.1).init(TINY))


def _same(ours, theirs, where):
    """Every entry of ``ours`` equals ``theirs``' (numbers to 1e-10, children recursively)."""
    if isinstance(ours, dict):
        for key, value in ours.items():
            assert key in theirs, f"{where}: torch's state has no {key!r}"
            _same(value, theirs[key], f"{where}[{key!r}]")
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), where
        for j, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same(a, b, f"{where}[{j}]")
    elif isinstance(ours, float):
        assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-15), where
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_written_state_is_torchs_own_at_the_same_step(name):
    make_torch, ours = CLASSES[name]
    tx = sgd_groups(ours)
    state, _ = jopt_run(tx, tx.init(TINY), K)
    _same(jt.scheduler_state_dict(tx, state), _torch_state(name), name)
