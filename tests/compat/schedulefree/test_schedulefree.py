"""jopt.compat.schedulefree against schedulefree 1.4.1 in lockstep on CPU: the same
gradient arrays each step; after every step the train-mode parameters (y, jopt's params)
and the package's ``.eval()`` parameters (x, ``eval_params``) are compared, the package
switched back with ``.train()`` as a training loop with evaluation does."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import schedulefree
import torch

import jopt
import jopt.compat.schedulefree as sf
import jopt.compat.torch as jt
from tests.support.tolerances import tol

SHAPES = {"w": (3, 4), "b": (4,), "m": (2, 3)}
STEPS = 8
DTYPES = [np.float64, np.float32]


def data(dtype):
    rng = np.random.default_rng(21)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [
        {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()} for _ in range(STEPS)
    ]
    return params, grads


def run_jopt(tx, params, grads, eval_fn):
    """(y, x) after every step: jopt's params and eval_fn(state, params)."""

    @jax.jit
    def step(p, state, g):
        u, state = tx.update(g, state, p)
        p = optax.apply_updates(p, u)
        return p, state, eval_fn(state, p)

    p = jax.tree.map(jnp.asarray, params)
    state, out = tx.init(p), []
    for g in grads:
        p, state, x = step(p, state, jax.tree.map(jnp.asarray, g))
        out.append((jax.tree.map(np.asarray, p), jax.tree.map(np.asarray, x)))
    return out


def run_package(make, params, grads, base=None):
    """(y, x) after every step of the package's optimizer (``make(tensors)``)."""
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = make(list(ts.values())) if base is None else make(base(list(ts.values())))
    opt.train()
    out = []
    for g in grads:
        for k, t in ts.items():
            t.grad = torch.tensor(g[k])
        opt.step()
        y = {k: t.detach().numpy().copy() for k, t in ts.items()}
        opt.eval()
        x = {k: t.detach().numpy().copy() for k, t in ts.items()}
        opt.train()
        out.append((y, x))
    return out


def max_rel_error(ours, ref) -> float:
    err = 0.0
    for (y, x), (ry, rx) in zip(ours, ref, strict=True):
        for a, b in ((y, ry), (x, rx)):
            for k in b:
                scale = max(float(np.max(np.abs(b[k]))), 1e-30)
                err = max(err, float(np.max(np.abs(a[k] - b[k]))) / scale)
    return err


ADAMW: dict[str, Any] = dict(
    lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, warmup_steps=3, r=0.5
)
CASES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "AdamW": (lambda: sf.AdamWScheduleFree(**ADAMW), schedulefree.AdamWScheduleFree, ADAMW),
    "AdamW-defaults": (sf.AdamWScheduleFree, schedulefree.AdamWScheduleFree, {}),
    "SGD": (
        lambda: sf.SGDScheduleFree(
            lr=0.1, momentum=0.8, weight_decay=0.05, warmup_steps=2, weight_lr_power=1.0
        ),
        schedulefree.SGDScheduleFree,
        dict(lr=0.1, momentum=0.8, weight_decay=0.05, warmup_steps=2, weight_lr_power=1.0),
    ),
    "RAdam": (  # β2 = 0.9: ρ_t > 4 from t = 5, so both phases run
        lambda: sf.RAdamScheduleFree(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1, r=1.0),
        schedulefree.RAdamScheduleFree,
        dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1, r=1.0),
    ),
    "RAdam-sgd-phase": (
        lambda: sf.RAdamScheduleFree(lr=0.05, betas=(0.9, 0.9), silent_sgd_phase=False),
        schedulefree.RAdamScheduleFree,
        dict(lr=0.05, betas=(0.9, 0.9), silent_sgd_phase=False),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(CASES))
def test_presets_match_the_package(name, dtype):
    make, ref_class, kwargs = CASES[name]
    params, grads = data(dtype)
    ours = run_jopt(make(), params, grads, sf.eval_params)
    ref = run_package(lambda ps: ref_class(ps, **kwargs), params, grads)
    assert max_rel_error(ours, ref) <= tol("lockstep", dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_wrapper_matches_the_package(dtype):
    # an adaptive base with its own coupled decay (at z) and the decay at y. (Adagrad: a
    # torch Adam or RMSprop base finds the wrapper's z in its state and skips its own
    # state's creation, a KeyError in schedulefree 1.4.1.)
    params, grads = data(dtype)
    base = jt.Adagrad(lr=0.1, weight_decay=0.01)
    ours = run_jopt(
        sf.ScheduleFreeWrapper(base, weight_decay_at_y=0.1, momentum=0.8, r=0.5),
        params,
        grads,
        sf.eval_params,
    )
    ref = run_package(
        lambda b: schedulefree.ScheduleFreeWrapper(b, weight_decay_at_y=0.1, momentum=0.8, r=0.5),
        params,
        grads,
        base=lambda ps: torch.optim.Adagrad(ps, lr=0.1, weight_decay=0.01),
    )
    assert max_rel_error(ours, ref) <= tol("lockstep", dtype)


def test_the_checker_sees_a_wrong_step():
    # the comparison is not vacuous: a 1 % different rate is far outside the bound
    params, grads = data(np.float64)
    ours = run_jopt(sf.AdamWScheduleFree(lr=0.0505), params, grads, sf.eval_params)
    ref = run_package(lambda ps: schedulefree.AdamWScheduleFree(ps, lr=0.05), params, grads)
    assert max_rel_error(ours, ref) > 1e-4


def test_eval_params_through_a_chain_and_bad_arguments():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    tx = optax.multi_transform(
        {"a": sf.AdamWScheduleFree(lr=0.1, eps=0.0), "b": jopt.sgd(0.1)}, {"a": "a", "b": "b"}
    )
    state = tx.init(params)
    updates, state = tx.update({"a": jnp.ones(2), "b": jnp.ones(3)}, state, params)
    params = optax.apply_updates(params, updates)
    x: Any = sf.eval_params(state, params)
    np.testing.assert_array_equal(x["b"], params["b"])  # not schedule-free: as it is
    np.testing.assert_allclose(x["a"], [0.9, 0.9], rtol=1e-12)
    with pytest.raises(ValueError, match=r"^jopt\.schedule_free_eval_params: no schedule-free"):
        jopt.schedule_free_eval_params(jopt.sgd(0.1).init(params), params)
    with pytest.raises(
        ValueError, match=r"^jopt\.compat\.schedulefree\.SGDScheduleFree: Momentum must be"
    ):
        sf.SGDScheduleFree(momentum=1.0)
    with pytest.raises(ValueError, match=r"^jopt\.compat\.schedulefree\.AdamWScheduleFree: .*"):
        sf.AdamWScheduleFree(betas=(0.0, 0.999))
