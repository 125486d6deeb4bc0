"""jopt/compat/torch/_groups.py: param_groups= and lr_scheduler= on the torch presets,
in lockstep with torch.optim over three groups, and the errors of a bad group."""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler as tl
from torch.optim.swa_utils import SWALR

import jopt
import jopt.compat.torch as jt
import jopt.schedules as s
from jopt.compat.torch._groups import LR_SCHEDULER, PARAM_GROUPS, MinLr

MIN_LR = MinLr()

SHAPES = {"body": {"w": (3, 2), "bias": (2,)}, "head": {"w": (2, 2), "bias": (2,)}}
PATHS = [("body", "w"), ("body", "bias"), ("head", "w"), ("head", "bias")]
# torch's groups: the biases, the head's weight, the rest (jopt's default group)
TORCH_GROUPS = [[1, 3], [2], [0]]


def lockstep(tx, make_torch, steps=15, scheduler=None, metrics=None):
    """Max |θ_jopt − θ_torch| over ``steps`` steps fed the same float64 gradients, and the
    rates of the last step (jopt's get_learning_rate, torch's lr before its step). With
    ``metrics``, step t passes metrics[t] (torch's ``scheduler.step(metric)``, jopt's
    ``value=``)."""
    rng = np.random.default_rng(0)
    start = {a: {b: rng.normal(size=SHAPES[a][b]) for b in SHAPES[a]} for a in SHAPES}
    tensors = [torch.tensor(start[a][b], requires_grad=True) for a, b in PATHS]
    opt = make_torch([[tensors[i] for i in g] for g in TORCH_GROUPS])
    sched = None if scheduler is None else scheduler(opt)
    params = jax.tree.map(jnp.asarray, start)
    state, update = tx.init(params), jax.jit(tx.update)
    err, last = 0.0, None
    for step in range(steps):
        grads = {a: {b: rng.normal(size=SHAPES[a][b]) for b in SHAPES[a]} for a in SHAPES}
        for t, (a, b) in zip(tensors, PATHS, strict=True):
            t.grad = torch.tensor(grads[a][b])
        last = [g["lr"] for g in opt.param_groups]
        opt.step()
        extra = {} if metrics is None else {"value": metrics[step]}
        if sched is not None:
            sched.step(*extra.values())
        u, state = update(jax.tree.map(jnp.asarray, grads), state, params, **extra)
        params = optax.apply_updates(params, u)
        for t, (a, b) in zip(tensors, PATHS, strict=True):
            err = max(err, float(np.max(np.abs(np.asarray(params[a][b]) - t.detach().numpy()))))
    np.testing.assert_allclose(jopt.get_learning_rate(state), last, rtol=1e-10, atol=1e-15)
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


# ------------------------------------------------ every torch scheduler class over groups

LRS = (0.2, 0.05, 0.1)  # the groups' rates: param_groups "a", "b", then the default "c"
SCHED_STEPS = 300


def _f(k):
    return jnp.asarray(k, jnp.float64)


# class -> (torch scheduler of an SGD over the three groups, jopt's lr_scheduler=)
CLASSES = {
    "LambdaLR": (
        lambda o: tl.LambdaLR(
            o, [lambda k: 0.99**k, lambda k: 1.0 / (1.0 + 0.1 * k), lambda k: max(0.1, 1 - k / 200)]
        ),
        [
            functools.partial(s.lambda_lr, lr_lambda=lambda k: 0.99 ** _f(k)),
            functools.partial(s.lambda_lr, lr_lambda=lambda k: 1.0 / (1.0 + 0.1 * _f(k))),
            functools.partial(s.lambda_lr, lr_lambda=lambda k: jnp.maximum(0.1, 1 - _f(k) / 200)),
        ],
    ),
    "MultiplicativeLR": (
        lambda o: tl.MultiplicativeLR(
            o, [lambda k: 0.99, lambda k: 0.5 if k % 50 == 0 else 1.0, lambda k: 0.995]
        ),
        [
            functools.partial(s.multiplicative_lr, lr_lambda=lambda k: jnp.float64(0.99)),
            functools.partial(
                s.multiplicative_lr, lr_lambda=lambda k: jnp.where(k % 50 == 0, 0.5, 1.0)
            ),
            functools.partial(s.multiplicative_lr, lr_lambda=lambda k: jnp.float64(0.995)),
        ],
    ),
    "StepLR": (
        lambda o: tl.StepLR(o, step_size=7, gamma=0.8),
        functools.partial(s.step_lr, step_size=7, gamma=0.8),
    ),
    "MultiStepLR": (
        lambda o: tl.MultiStepLR(o, milestones=[30, 80, 200], gamma=0.3),
        functools.partial(s.multi_step_lr, milestones=[30, 80, 200], gamma=0.3),
    ),
    "ConstantLR": (
        lambda o: tl.ConstantLR(o, factor=0.25, total_iters=40),
        functools.partial(s.constant_lr, factor=0.25, total_iters=40),
    ),
    "LinearLR": (
        lambda o: tl.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=50),
        functools.partial(s.linear_lr, start_factor=0.1, end_factor=0.9, total_iters=50),
    ),
    "ExponentialLR": (
        lambda o: tl.ExponentialLR(o, gamma=0.99),
        functools.partial(s.exponential_lr, gamma=0.99),
    ),
    "PolynomialLR": (
        lambda o: tl.PolynomialLR(o, total_iters=150, power=2.0),
        functools.partial(s.polynomial_lr, total_iters=150, power=2.0),
    ),
    "CosineAnnealingLR": (
        lambda o: tl.CosineAnnealingLR(o, T_max=70, eta_min=0.001),
        functools.partial(s.cosine_annealing_lr, t_max=70, eta_min=0.001),
    ),
    "CosineAnnealingWarmRestarts": (
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=20, T_mult=2, eta_min=0.001),
        functools.partial(s.cosine_annealing_warm_restarts, t_0=20, t_mult=2, eta_min=0.001),
    ),
    "CyclicLR": (
        lambda o: tl.CyclicLR(
            o,
            base_lr=[0.01, 0.02, 0.005],
            max_lr=[0.1, 0.3, 0.05],
            step_size_up=15,
            step_size_down=25,
            mode="triangular2",
            cycle_momentum=False,
        ),
        [
            lambda lr, b=b, m=m: s.cyclic_lr(b, m, 15, 25, mode="triangular2")
            for b, m in [(0.01, 0.1), (0.02, 0.3), (0.005, 0.05)]
        ],
    ),
    "OneCycleLR": (
        lambda o: tl.OneCycleLR(
            o, max_lr=[0.1, 0.3, 0.05], total_steps=320, three_phase=True, cycle_momentum=False
        ),
        [
            lambda lr, m=m: s.one_cycle_lr(m, total_steps=320, three_phase=True)
            for m in (0.1, 0.3, 0.05)
        ],
    ),
    "SequentialLR": (
        lambda o: tl.SequentialLR(
            o,
            [
                tl.LinearLR(o, start_factor=0.2, total_iters=10),
                tl.ExponentialLR(o, gamma=0.98),
                tl.CosineAnnealingLR(o, T_max=50),
            ],
            milestones=[20, 120],
        ),
        lambda lr: s.sequential_lr(
            [
                s.linear_lr(lr, start_factor=0.2, total_iters=10),
                s.exponential_lr(lr, gamma=0.98),
                s.cosine_annealing_lr(lr, t_max=50),
            ],
            milestones=[20, 120],
        ),
    ),
    "ChainedScheduler": (
        lambda o: tl.ChainedScheduler(
            [
                tl.ConstantLR(o, factor=0.5, total_iters=10),
                tl.ExponentialLR(o, gamma=0.99),
                tl.MultiStepLR(o, milestones=[50, 150], gamma=0.5),
            ]
        ),
        lambda lr: s.chained_lr(
            lr,
            s.constant_lr(1.0, factor=0.5, total_iters=10),
            s.exponential_lr(1.0, gamma=0.99),
            s.multi_step_lr(1.0, milestones=[50, 150], gamma=0.5),
        ),
    ),
    "SWALR": (
        lambda o: SWALR(o, swa_lr=[0.05, 0.02, 0.01], anneal_epochs=60, anneal_strategy="linear"),
        [
            lambda lr, w=w: s.swalr(lr, w, anneal_epochs=60, anneal_strategy="linear")
            for w in (0.05, 0.02, 0.01)
        ],
    ),
}
TINY = {"a": jnp.zeros(1), "b": jnp.zeros(1), "c": jnp.zeros(1)}


def sgd_groups(lr_scheduler, **kwargs):
    """jopt's SGD over the three tiny groups "a", "b" and the default "c" (rates LRS)."""
    return jt.SGD(
        LRS[2],
        param_groups=[{"params": "a", "lr": LRS[0]}, {"params": "b", "lr": LRS[1]}],
        lr_scheduler=lr_scheduler,
        **kwargs,
    )


def torch_sgd_groups(**kwargs):
    ps = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in LRS]
    return torch.optim.SGD(
        [{"params": [ps[0]], "lr": LRS[0]}, {"params": [ps[1]], "lr": LRS[1]}, {"params": [ps[2]]}],
        lr=LRS[2],
        **kwargs,
    )


def torch_rates(make, opt, steps):
    """The rates of ``steps`` optimizer steps per group under ``opt.step(); sched.step()``
    (a scheduler made by ``make(opt)``), and the scheduler."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's step(0) of its children
        sched = make(opt)
        out = []
        for _ in range(steps):
            out.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
    return np.asarray(out), sched


def jopt_rates(tx, state, steps):
    """The rates of ``steps`` updates from ``state`` (one compiled scan, zero gradients)."""

    def step(state, _):
        _, state = tx.update(jax.tree.map(jnp.zeros_like, TINY), state, TINY)
        return state, jopt.get_learning_rate(state)

    return np.asarray(jax.jit(lambda st: jax.lax.scan(step, st, None, length=steps)[1])(state))


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_scheduler_class_gives_torchs_rate_per_group(name):
    make_torch, ours = CLASSES[name]
    want, _ = torch_rates(make_torch, torch_sgd_groups(), SCHED_STEPS)
    tx = sgd_groups(ours)
    got = jopt_rates(tx, tx.init(TINY), SCHED_STEPS)
    assert len(set(np.round(want[:, 0] / LRS[0], 12))) > 1  # the rate does change
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------- momentum cycled per group

BASE_MOMENTUM, MAX_MOMENTUM = [0.8, 0.7, 0.85], [0.9, 0.95, 0.88]


def test_cyclic_lr_cycles_each_groups_sgd_momentum_as_torch():
    cycle = dict(step_size_up=3, step_size_down=5, mode="exp_range", gamma=0.97)
    lrs = [(0.01, 0.1), (0.02, 0.3), (0.005, 0.05)]

    def group(i, **extra):
        momentum = s.cyclic_momentum(BASE_MOMENTUM[i], MAX_MOMENTUM[i], **cycle)
        return {"momentum": momentum, **extra}

    tx = jt.SGD(
        0.1,
        momentum=s.cyclic_momentum(BASE_MOMENTUM[2], MAX_MOMENTUM[2], **cycle),
        param_groups=[{"params": r".*/bias", **group(0)}, {"params": r"head/w", **group(1)}],
        lr_scheduler=[lambda lr, b=b, m=m: s.cyclic_lr(b, m, **cycle) for b, m in lrs],
    )

    def make_torch(groups):
        return torch.optim.SGD([{"params": g} for g in groups], lr=0.1, momentum=0.5)

    def cyclic(opt):
        return tl.CyclicLR(
            opt,
            base_lr=[b for b, _ in lrs],
            max_lr=[m for _, m in lrs],
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
            **cycle,
        )

    assert lockstep(tx, make_torch, steps=20, scheduler=cyclic) <= 1e-10


def test_one_cycle_lr_cycles_each_groups_adam_beta1_as_torch():
    total = 20
    phases = dict(total_steps=total, pct_start=0.4, anneal_strategy="linear")

    def betas(i):
        return (s.one_cycle_momentum(**phases, base_momentum=BASE_MOMENTUM[i],
                                     max_momentum=MAX_MOMENTUM[i]), 0.99)  # fmt: skip

    tx = jt.Adam(
        1e-2,
        betas=betas(2),
        param_groups=[
            {"params": r".*/bias", "betas": betas(0)},
            {"params": r"head/w", "betas": betas(1)},
        ],
        lr_scheduler=[lambda lr, m=m: s.one_cycle_lr(m, **phases) for m in (0.1, 0.3, 0.05)],
    )

    def make_torch(groups):
        return torch.optim.Adam([{"params": g} for g in groups], lr=1e-2, betas=(0.9, 0.99))

    def one_cycle(opt):
        return tl.OneCycleLR(
            opt,
            max_lr=[0.1, 0.3, 0.05],
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
            **phases,
        )

    assert lockstep(tx, make_torch, steps=total, scheduler=one_cycle) <= 1e-10


def test_a_momentum_cycled_one_group_only_is_not_torchs_run():
    """The check above can fail: the default group's momentum left constant differs."""
    cycle = dict(step_size_up=3, step_size_down=5)
    tx = jt.SGD(
        0.1,
        momentum=0.9,
        param_groups=[
            {"params": r".*/bias", "momentum": s.cyclic_momentum(0.8, 0.9, **cycle)},
            {"params": r"head/w", "momentum": s.cyclic_momentum(0.8, 0.9, **cycle)},
        ],
        lr_scheduler=lambda lr: s.cyclic_lr(0.01, 0.1, **cycle),
    )

    def make_torch(groups):
        return torch.optim.SGD([{"params": g} for g in groups], lr=0.1, momentum=0.5)

    def cyclic(opt):
        return tl.CyclicLR(opt, base_lr=0.01, max_lr=0.1, **cycle)

    assert lockstep(tx, make_torch, steps=10, scheduler=cyclic) > 1e-3


# ------------------------------------------------------------ ReduceLROnPlateau per group

# several cuts, then the floor of the first two groups; a cooldown in between
PLATEAU_METRICS = [5.0, 4.0, 4.0, 4.0, 3.0, 3.5, 3.5, 3.5, 3.5, 3.5] * 4 + [1.0] + [2.0] * 9


def test_reduce_lr_on_plateau_cuts_each_groups_rate_as_torch():
    min_lr = [2e-3, 5e-4, 0.0]
    kwargs = dict(factor=0.5, patience=1, cooldown=2, threshold=0.01, eps=1e-4)
    tx = jt.AdamW(
        1e-2,
        weight_decay=0.1,
        param_groups=[{"params": r".*/bias", "lr": 1e-2}, {"params": r"head/w", "lr": 4e-3}],
        lr_scheduler=jt.ReduceLROnPlateau(**kwargs, min_lr=min_lr),
    )

    def make_torch(groups):
        return torch.optim.AdamW(
            [
                {"params": groups[0], "lr": 1e-2},
                {"params": groups[1], "lr": 4e-3},
                {"params": groups[2]},
            ],
            lr=1e-2,
            weight_decay=0.1,
        )

    rates = []

    def plateau(opt):
        sched = tl.ReduceLROnPlateau(opt, **kwargs, min_lr=min_lr)
        step = sched.step
        sched.step = lambda m: (step(m), rates.append([g["lr"] for g in opt.param_groups]))
        return sched

    steps = len(PLATEAU_METRICS)
    assert lockstep(tx, make_torch, steps, scheduler=plateau, metrics=PLATEAU_METRICS) <= 1e-10
    rates = np.asarray(rates)
    assert len(set(rates[:, 2])) >= 4  # several cuts
    assert rates[-1, 0] == min_lr[0] and rates[-1, 1] == min_lr[1]  # two groups at the floor


def test_reduce_lr_on_plateau_reports_the_rates_and_refuses_what_torch_cannot_run():
    tx = sgd_groups(jt.ReduceLROnPlateau(patience=0, factor=0.5))
    state = tx.init(TINY)
    np.testing.assert_allclose(jopt.get_learning_rate(state), LRS)
    for v in [1.0, 2.0, 3.0]:
        _, state = tx.update(TINY, state, TINY, value=v)
    np.testing.assert_allclose(jopt.get_learning_rate(state), np.asarray(LRS) / 2)
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.SGD: .*needs the monitored"):
        tx.update(TINY, state, TINY)
    with pytest.raises(ValueError, match=r"min_lr lists 4 rates for 2 listed groups"):
        sgd_groups(jt.ReduceLROnPlateau(min_lr=[0.0] * 4))
    tx = jt.SGD(
        0.1, param_groups=[{"params": "a"}], lr_scheduler=jt.ReduceLROnPlateau(min_lr=[0.0])
    )
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.SGD: ReduceLROnPlateau's min_lr"):
        tx.init(TINY)
    with pytest.raises(ValueError, match=r"Rprop's step is not proportional to its lr"):
        jt.Rprop(lr_scheduler=jt.ReduceLROnPlateau())
    with pytest.raises(ValueError, match=r"needs a number as the rate of each group"):
        jt.SGD(s.step_lr(0.1, 3), lr_scheduler=jt.ReduceLROnPlateau())
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.ReduceLROnPlateau: min_lr\[1\]"):
        jt.ReduceLROnPlateau(min_lr=[0.0, -1.0])
    with pytest.raises(ValueError, match=r"^jopt\.compat\.torch\.ReduceLROnPlateau: factor=1.0"):
        jt.ReduceLROnPlateau(factor=1.0)


def test_the_min_lr_rule_rejects_its_bad_values():
    for label, value in MIN_LR.bad().items():
        with pytest.raises((TypeError, ValueError), match=r"min_lr"):
            MIN_LR("min_lr", value)
        assert label
    assert MIN_LR("min_lr", [0, 1e-3]) == (0.0, 1e-3)
