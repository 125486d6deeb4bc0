"""jopt/compat/torch/_groups.py: param_groups= and lr_scheduler= on the torch presets,
in lockstep with torch.optim over three groups, and the errors of a bad group."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
import jopt.schedules as s
from jopt.compat.torch._groups import LR_SCHEDULER, PARAM_GROUPS

SHAPES = {"body": {"w": (3, 2), "bias": (2,)}, "head": {"w": (2, 2), "bias": (2,)}}
PATHS = [("body", "w"), ("body", "bias"), ("head", "w"), ("head", "bias")]
# torch's groups: the biases, the head's weight, the rest (jopt's default group)
TORCH_GROUPS = [[1, 3], [2], [0]]


def lockstep(tx, make_torch, steps=15, scheduler=None):
    """Max |θ_jopt − θ_torch| over ``steps`` steps fed the same float64 gradients, and the
    rates of the last step (jopt's get_learning_rate, torch's lr before its step)."""
    rng = np.random.default_rng(0)
    start = {a: {b: rng.normal(size=SHAPES[a][b]) for b in SHAPES[a]} for a in SHAPES}
    tensors = [torch.tensor(start[a][b], requires_grad=True) for a, b in PATHS]
    opt = make_torch([[tensors[i] for i in g] for g in TORCH_GROUPS])
    sched = None if scheduler is None else scheduler(opt)
    params = jax.tree.map(jnp.asarray, start)
    state, update = tx.init(params), jax.jit(tx.update)
    err, last = 0.0, None
    for _ in range(steps):
        grads = {a: {b: rng.normal(size=SHAPES[a][b]) for b in SHAPES[a]} for a in SHAPES}
        for t, (a, b) in zip(tensors, PATHS, strict=True):
            t.grad = torch.tensor(grads[a][b])
        last = [g["lr"] for g in opt.param_groups]
        opt.step()
        if sched is not None:
            sched.step()
        u, state = update(jax.tree.map(jnp.asarray, grads), state, params)
        params = optax.apply_updates(params, u)
        for t, (a, b) in zip(tensors, PATHS, strict=True):
            err = max(err, float(np.max(np.abs(np.asarray(params[a][b]) - t.detach().numpy()))))
    np.testing.assert_allclose(np.asarray(jopt.get_learning_rate(state)), last, rtol=1e-12)
    return err


def test_adamw_groups_with_one_cycle_match_torch():
    tx = jt.AdamW(
        lr=1e-2,
        weight_decay=0.1,
        param_groups=[
            {"params": r".*/bias", "weight_decay": 0.0},
            {"params": r"head/w", "lr": 1e-1, "betas": (0.5, 0.95)},
        ],
        lr_scheduler=functools.partial(s.one_cycle_lr, total_steps=20),
    )

    def make_torch(groups):
        return torch.optim.AdamW(
            [
                {"params": groups[0], "weight_decay": 0.0},
                {"params": groups[1], "lr": 1e-1, "betas": (0.5, 0.95)},
                {"params": groups[2]},
            ],
            lr=1e-2,
            weight_decay=0.1,
        )

    def one_cycle(opt):
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[1e-2, 1e-1, 1e-2], total_steps=20, cycle_momentum=False
        )

    assert lockstep(tx, make_torch, scheduler=one_cycle) <= 1e-10


def test_sgd_groups_with_a_lambda_per_group_match_torch():
    lambdas = [lambda k: 0.9**k, lambda k: 1.0 / (1 + k), lambda k: 1.0]  # torch's
    as_float = lambda k: jnp.asarray(k, jnp.float64)  # noqa: E731 (the count is an int array)
    ours = [
        lambda k: 0.9 ** as_float(k),
        lambda k: 1.0 / (1.0 + as_float(k)),
        lambda k: jnp.ones((), jnp.float64),
    ]
    tx = jt.SGD(
        lr=0.05,
        momentum=0.9,
        param_groups=[
            {"params": r".*/bias", "momentum": 0.5, "nesterov": True},
            {"params": lambda path, leaf: path == "head/w", "lr": 0.1, "dampening": 0.2},
        ],
        lr_scheduler=[functools.partial(s.lambda_lr, lr_lambda=f) for f in ours],
    )

    def make_torch(groups):
        return torch.optim.SGD(
            [
                {"params": groups[0], "momentum": 0.5, "nesterov": True},
                {"params": groups[1], "lr": 0.1, "dampening": 0.2},
                {"params": groups[2]},
            ],
            lr=0.05,
            momentum=0.9,
        )

    def lambda_lr(opt):
        return torch.optim.lr_scheduler.LambdaLR(opt, lambdas)

    assert lockstep(tx, make_torch, scheduler=lambda_lr) <= 1e-10


def test_groups_without_a_scheduler_match_torch():
    def make_torch(groups):
        return torch.optim.RMSprop(
            [{"params": groups[0], "centered": True}, {"params": groups[1]}], lr=0.01
        )

    # torch's first group holds the biases and the head's weight: jopt's selects the same
    tx = jt.RMSprop(lr=0.01, param_groups=[{"params": r".*/bias|head/w", "centered": True}])
    global TORCH_GROUPS
    saved, TORCH_GROUPS = TORCH_GROUPS, [[1, 3, 2], [0]]
    try:
        assert lockstep(tx, make_torch) <= 1e-10
    finally:
        TORCH_GROUPS = saved


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(param_groups="bias"), TypeError, r"param_groups='bias' is invalid"),
        (dict(param_groups=[{"lr": 0.1}]), TypeError, r"param_groups\[0\]=\{'lr': 0.1\} is"),
        (dict(param_groups=[{"params": "x", "betas": 1}]), TypeError, r"unknown keys \['betas'\]"),
        (dict(param_groups=[{"params": "x", "lr": -1.0}]), ValueError, r"in param_groups\[0\]"),
        (dict(lr_scheduler=0.1), TypeError, r"lr_scheduler=0.1 is invalid"),
        (
            dict(param_groups=[{"params": "x"}], lr_scheduler=[s.constant_lr] * 3),
            ValueError,
            r"lists 3 schedulers for 1 listed groups",
        ),
    ],
)
def test_bad_groups_are_refused_when_the_preset_is_built(kwargs, error, match):
    with pytest.raises(error, match=r"^jopt\.compat\.torch\.SGD: .*" + match):
        jt.SGD(0.1, **kwargs)


def test_a_scheduler_list_without_one_for_the_other_parameters_is_refused_at_init():
    tx = jt.SGD(0.1, param_groups=[{"params": r".*/bias"}], lr_scheduler=[s.constant_lr])
    params = jax.tree.map(jnp.ones, SHAPES, is_leaf=lambda x: isinstance(x, tuple))
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.SGD: lr_scheduler lists 1"):
        tx.init(params)
    tx = jt.SGD(0.1, param_groups=[{"params": r".*"}], lr_scheduler=[s.constant_lr])
    tx.init(params)  # every parameter is in the listed group: no other group


@pytest.mark.parametrize("rule", [PARAM_GROUPS, LR_SCHEDULER], ids=["param_groups", "scheduler"])
def test_each_rule_rejects_its_bad_values(rule):
    for label, value in rule.bad().items():
        with pytest.raises(TypeError):
            rule("x", value)
        assert label
