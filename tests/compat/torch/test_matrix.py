"""jopt.compat.torch.Adafactor and Muon (jopt/compat/torch/_matrix.py) against torch.optim:
lockstep trajectories, torch's argument checks (Muon's own rules for ns_steps and
adjust_lr_fn), the shapes and dtypes each refuses."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import torch

import jopt.compat.torch as jt
from jopt._core.checks import declaration
from tests.support import parity

CASES = parity.torch_cases("matrix")
QUICK = parity.select(parity.TORCH_QUICK, CASES)
SLOW = parity.select(parity.TORCH_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_torch(case, dtype, torch_quick):
    parity.check(torch_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_torch(case, dtype, torch_slow):
    parity.check(torch_slow, case, dtype)


BAD = [
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
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)


# Muon's own rules (declared in _matrix.py), with the values each accepts.
MUON_RULES = declaration(jt.Muon).rules
RULES = {
    "ns_steps": [0, 1, 5, 99],
    "adjust_lr_fn": [None, "original", "match_rms_adamw"],
}
BAD_VALUES = [(name, label, v) for name in RULES for label, v in MUON_RULES[name].bad().items()]


@pytest.mark.parametrize("name", RULES)
def test_muon_rules_accept_their_valid_values(name):
    rule = MUON_RULES[name]
    assert rule.bad(), f"{name}: a rule with no bad values is tested by nothing"
    for value in RULES[name]:
        assert rule("x", value) == value


@pytest.mark.parametrize(
    "name, label, value", BAD_VALUES, ids=[f"{n}-{label}" for n, label, _ in BAD_VALUES]
)
def test_muon_rules_reject_each_class_of_bad_value(name, label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        MUON_RULES[name]("x", value)
    message = str(error.value)
    assert "x" in message, message


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
