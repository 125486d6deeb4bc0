"""jopt.compat.torch against torch.optim itself: trajectories, defaults, argument checks."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from tests.support.parity import STEPS, TORCH_CASES, tolerance, torch_errors
from tests.support.registry import CASES

import jopt
import jopt.compat.torch as jt

# The torch.optim classes; LBFGS evaluates the loss itself and SparseAdam refuses, so the
# lockstep tests here take the rest (tests/test_lbfgs.py, tests/test_sparse_adam.py).
OPTIMIZERS = [n for n in jt.__all__ if n in torch.optim.__all__]
LOCKSTEP = [n for n in OPTIMIZERS if n not in {"LBFGS", "SparseAdam"}]
NO_SCHEDULE = {"Rprop"}  # lr is only Rprop's initial step size: a schedule is refused


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.name for c in TORCH_CASES])
def test_trajectory_matches_torch(case, dtype):
    max_abs, max_rel = torch_errors(case, dtype)
    assert max_rel <= tolerance(case, dtype), (
        f"{case.name} ({np.dtype(dtype).name}, {STEPS} steps): max rel err {max_rel:.3g}, "
        f"max abs err {max_abs:.3g}"
    )


FLAGS = {"foreach", "fused", "capturable", "differentiable"}  # kernel choices: no-ops


def test_every_option_is_exercised():
    used = {(c.preset, k) for c in TORCH_CASES for k in {**c.kwargs, **c.jopt_kwargs}}
    used |= {(c.preset, "schedule") for c in TORCH_CASES if c.schedule is not None}
    for preset in LOCKSTEP:
        params = set(inspect.signature(getattr(jt, preset)).parameters) - {"lr"} - FLAGS
        params |= set() if preset in NO_SCHEDULE else {"schedule"}
        missing = {p for p in params if (preset, p) not in used}
        assert not missing, f"{preset}: options not compared with torch: {sorted(missing)}"


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "LBFGS"])
def test_defaults_are_torchs(name):
    ours = inspect.signature(getattr(jt, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    doc = getattr(jt, name).__doc__
    for p in ours.values():
        if p.name == "maximize" and p.name not in theirs:  # jopt adds it (Muon): keyword-only
            assert p.kind == p.KEYWORD_ONLY and p.default is False, name
            continue
        default = theirs[p.name].default
        if p.default is None and default == 0:
            # A zero that switches a feature off is None here (inject_hyperparams turns
            # numeric defaults into arrays, which always keep their state); documented.
            assert f"``{p.name}``" in doc and "PyTorch's default 0, off" in doc, (name, p.name)
            continue
        assert p.default == default, f"{name}({p.name}): {p.default!r} != torch's {default!r}"
    # positional arguments in torch's order (after ``params``); the rest keyword-only
    positional = [p.name for p in ours.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)[1 : len(positional) + 1]


BAD = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1.0)),
    ("SGD", dict(nesterov=True)),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(weight_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-0.1)),
    ("Adagrad", dict(eps=-1e-10)),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(weight_decay=-0.1)),
    ("RMSprop", dict(alpha=-0.1)),
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.5))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(betas=(0.9, 1.0))),
    ("AdamW", dict(weight_decay=-0.1)),
    # Adadelta and the Adam family (issue 14)
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-0.1)),
    ("Adamax", dict(lr=-1.0)),
    ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(betas=(1.0, 0.999))),
    ("Adamax", dict(betas=(0.9, 1.5))),
    ("Adamax", dict(weight_decay=-0.1)),
    ("NAdam", dict(lr=-1.0)),
    ("NAdam", dict(eps=-1.0)),
    ("NAdam", dict(betas=(-0.1, 0.999))),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("NAdam", dict(weight_decay=-0.1)),
    ("NAdam", dict(momentum_decay=-0.1)),
    ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(betas=(1.0, 0.999))),
    ("RAdam", dict(betas=(0.9, -0.5))),
    ("RAdam", dict(weight_decay=-0.1)),
    ("Adafactor", dict(lr=-1.0)),
    ("Adafactor", dict(beta2_decay=0.5)),
    ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1e-3))),
    ("Adafactor", dict(d=0.5)),
    ("Adafactor", dict(weight_decay=-0.1)),
    ("Muon", dict(lr=-1.0)),
    ("Muon", dict(momentum=-0.5)),
    ("Muon", dict(weight_decay=-0.1)),
    ("Muon", dict(adjust_lr_fn="other")),
    ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=-0.1)),
    ("Rprop", dict(lr=-1.0)),
    ("Rprop", dict(etas=(1.5, 1.2))),
    ("Rprop", dict(etas=(0.5, 0.9))),
    ("Rprop", dict(etas=(0.0, 1.2))),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(jt, name)(**kwargs)
    assert str(ours.value).startswith(f"jopt.compat.torch.{name}: ")
    assert str(theirs.value) in str(ours.value)


@pytest.mark.parametrize(
    "kwargs, error",
    [(dict(ns_steps=100), ValueError), (dict(ns_coefficients=(1.0, 2.0)), TypeError)],
)
def test_muon_refuses_at_construction_what_torch_refuses_at_its_first_step(kwargs, error):
    w = torch.zeros(2, 2, requires_grad=True)
    opt = torch.optim.Muon([w], **kwargs)
    w.grad = torch.ones(2, 2)
    with pytest.raises(ValueError) as theirs:
        opt.step()
    with pytest.raises(error) as ours:
        jt.Muon(**kwargs)
    assert str(ours.value).startswith("jopt.compat.torch.Muon: " + str(theirs.value))


@pytest.mark.parametrize("shape", [(4,), (), (2, 3, 4)])
def test_muon_takes_matrices_only_as_torch(shape):
    with pytest.raises(ValueError) as theirs:
        torch.optim.Muon([torch.zeros(shape, requires_grad=True)])
    tx = jt.Muon()
    with pytest.raises(ValueError) as ours:
        tx.init({"w": jnp.zeros((2, 2)), "x": jnp.zeros(shape)})
    wording = str(theirs.value).split("size: ")[0]  # then torch.Size([4]) vs (4,)
    assert wording == "Muon only supports 2D parameters whereas we found a parameter with "
    assert f"{wording}size: {shape} at ['x']" in str(ours.value)


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_complex_parameters_are_refused_as_torch(name):
    with pytest.raises(RuntimeError, match=f"{name} does not support complex parameters"):
        w = torch.zeros(2, 2, dtype=torch.complex64, requires_grad=True)
        opt = getattr(torch.optim, name)([w])
        w.grad = torch.ones(2, 2, dtype=torch.complex64)
        opt.step()
    tx = getattr(jt, name)()
    with pytest.raises(TypeError, match=f"{name} does not support complex parameters"):
        tx.init({"w": jnp.zeros((2, 2), jnp.complex64)})


def test_stricter_than_torch_where_torch_would_diverge():
    # torch accepts alpha >= 1 (the square average then never forgets, or goes negative)
    with pytest.raises(ValueError, match=r"Invalid alpha value: 1.0; alpha must be in \[0, 1\)"):
        jt.RMSprop(alpha=1.0)


@pytest.mark.parametrize("name", LOCKSTEP)
def test_kernel_flags_are_accepted_and_change_nothing(name):
    factory = getattr(jt, name)
    flags = {f: True for f in FLAGS & set(inspect.signature(factory).parameters)}
    theirs = FLAGS & set(inspect.signature(getattr(torch.optim, name)).parameters)
    assert set(flags) == theirs, f"{name} takes {sorted(flags)}, torch {sorted(theirs)}"
    if not flags:  # torch's Muon has no kernel flags
        return
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)}
    grads = {"w": jnp.linspace(0.5, -0.5, 6).reshape(2, 3)}
    plain, flagged = factory(), factory(**flags)
    s1, s2 = plain.init(params), flagged.init(params)
    for _ in range(3):
        u1, s1 = plain.update(grads, s1, params)
        u2, s2 = flagged.update(grads, s2, params)
        np.testing.assert_array_equal(u1["w"], u2["w"])
    with pytest.raises(TypeError, match=f"jopt.compat.torch.{name}: .*must be True or False"):
        factory(**{next(iter(flags)): "yes"})


def test_public_names_are_in_the_registry():
    covered = {c.factory for c in CASES}
    missing = [n for n in LOCKSTEP if getattr(jt, n) not in covered]
    assert not missing, f"not in tests/registry.py: {missing}"


def test_lr_decay_is_recorded_as_the_learning_rate():
    tx = jt.Adagrad(lr=0.1, lr_decay=1.0)
    state = tx.init(jnp.zeros(2))
    for _ in range(3):
        _, state = tx.update(jnp.ones(2), state)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.1 / (1 + 2 * 1.0))


def test_lr_decay_meets_the_contracts():
    # Not in the registry: its recorded learning rate is the decayed one, not the schedule's.
    params = {
        "w": jnp.ones((2, 3), jnp.float32),
        "b": jnp.ones(3, jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), params)
    jopt.testing.check_transformation(jt.Adagrad(0.1, lr_decay=0.5), params, grads)
    jopt.testing.check_vmap(lambda lr: jt.Adagrad(lr, lr_decay=0.5), params, grads, [0.1, 0.2])


def test_every_optimizer_class_of_torch_optim_is_here():
    classes = [
        n
        for n in torch.optim.__all__
        if inspect.isclass(getattr(torch.optim, n))
        and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
        and n != "Optimizer"
    ]
    assert len(classes) == 15  # torch 2.13
    assert sorted(n for n in classes if n not in jt.__all__) == []
    reproduced = [n for n in classes if n != "SparseAdam"]
    assert all(n in OPTIMIZERS for n in reproduced)
    with pytest.raises(NotImplementedError, match="sparse"):
        jt.SparseAdam()
