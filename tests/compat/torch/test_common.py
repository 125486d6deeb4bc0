"""What every jopt.compat.torch preset shares (jopt/compat/torch/_common.py): torch's
signatures and defaults, its kernel switches, and the lockstep cases that compare each
preset with torch.optim (run by the test file of each preset's module)."""

from __future__ import annotations

import inspect
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jopt.compat.torch as jt
from tests.support import parity
from tests.support.registry import CASES

# The torch.optim classes; LBFGS evaluates the loss itself and SparseAdam refuses, so the
# lockstep cases take the rest (test_lbfgs.py, test_sparse_adam.py).
OPTIMIZERS = [n for n in jt.__all__ if n in torch.optim.__all__]
LOCKSTEP = [n for n in OPTIMIZERS if n not in {"LBFGS", "SparseAdam"}]
NO_SCHEDULE = {"Rprop"}  # lr is only Rprop's initial step size: a schedule is refused
FLAGS = {"foreach", "fused", "capturable", "differentiable"}  # kernel choices: no-ops
# One decorator adds these two to every preset: tested where it lives (test_groups.py).
GROUPS = {"param_groups", "lr_scheduler"}


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


def test_public_names_are_in_the_registry():
    covered = {c.factory for c in CASES}
    missing = [n for n in LOCKSTEP if getattr(jt, n) not in covered]
    assert not missing, f"not in tests/support/registry.py: {missing}"


def test_every_option_is_exercised():
    used = {(c.preset, k) for c in parity.TORCH_CASES for k in {**c.kwargs, **c.jopt_kwargs}}
    used |= {(c.preset, "schedule") for c in parity.TORCH_CASES if c.schedule is not None}
    for preset in LOCKSTEP:
        params = set(inspect.signature(getattr(jt, preset)).parameters) - {"lr"} - FLAGS - GROUPS
        params |= set() if preset in NO_SCHEDULE else {"schedule"}
        missing = {p for p in params if (preset, p) not in used}
        assert not missing, f"{preset}: options not compared with torch: {sorted(missing)}"


def test_every_case_is_run_by_the_test_file_of_its_module():
    here = Path(__file__).parent
    for case in parity.TORCH_CASES:
        module = parity.module_of(getattr(jt, case.preset))
        assert (here / f"test_{module}.py").is_file(), (case.name, module)
        assert case in parity.torch_cases(module)
    assert len({c.name for c in parity.TORCH_CASES}) == len(parity.TORCH_CASES)


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "LBFGS"])
def test_defaults_are_torchs(name):
    factory = getattr(jt, name)
    ours = inspect.signature(factory).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for p in ours.values():
        if p.name in GROUPS:  # torch's groups are the params argument; tested in test_groups
            continue
        if p.name == "maximize" and p.name not in theirs:  # jopt adds it (Muon): keyword-only
            assert p.kind == p.KEYWORD_ONLY and p.default is False, name
            continue
        default = theirs[p.name].default
        if p.default is None and default == 0:
            # A zero that switches a feature off is None here (inject_hyperparams turns
            # numeric defaults into arrays, which always keep their state); documented in
            # the parameter's Args entry.
            entry = parity.args_entry(factory, p.name)
            assert "PyTorch's default 0, off" in entry, (name, p.name, entry)
            continue
        assert p.default == default, f"{name}({p.name}): {p.default!r} != torch's {default!r}"
    # positional arguments in torch's order (after ``params``); the rest keyword-only
    positional = [p.name for p in ours.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)[1 : len(positional) + 1]


def test_the_defaults_check_reads_the_args_entry():
    # A documented "off" default must be in the parameter's own entry, not elsewhere.
    assert "PyTorch's default 0, off" in parity.args_entry(jt.Adam, "weight_decay")
    assert parity.args_entry(jt.Adam, "eps") == "eps: ε >= 0."
    assert parity.args_entry(jt.Adam, "nothing") == ""


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
    for _ in range(2):
        u1, s1 = plain.update(grads, s1, params)
        u2, s2 = flagged.update(grads, s2, params)
        np.testing.assert_array_equal(u1["w"], u2["w"])
    with pytest.raises(TypeError, match=f"jopt.compat.torch.{name}: .*must be True or False"):
        factory(**{next(iter(flags)): "yes"})
