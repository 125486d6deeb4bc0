"""jopt.schedule_free and its aliases beyond the compat presets' lockstep
(tests/compat/schedulefree): the paper form against schedulefree's
AdamWScheduleFreePaper, the optax form against optax.contrib (0.2.8), a NumPy formula for
the wrapper, and the argument checks."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import schedulefree

import jopt
from tests.compat.schedulefree.test_schedulefree import (
    DTYPES,
    data,
    max_rel_error,
    run_jopt,
    run_package,
)
from tests.support.tolerances import tol


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_paper_form_matches_adamw_schedulefree_paper(dtype):
    kw: dict[str, Any] = dict(
        lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, warmup_steps=3, r=0.5
    )
    params, grads = data(dtype)
    tx = jopt.schedule_free_adamw(0.05, 3, 0.8, 0.99, 1e-6, 0.1, r=0.5, form="paper")
    ours = run_jopt(tx, params, grads, jopt.schedule_free_eval_params)
    ref = run_package(lambda ps: schedulefree.AdamWScheduleFreePaper(ps, **kw), params, grads)
    assert max_rel_error(ours, ref) <= tol("lockstep", dtype)


def run_optax(tx, params, grads):
    with jax.numpy_dtype_promotion("standard"):  # optax mixes dtypes
        return run_jopt(tx, params, grads, optax.contrib.schedule_free_eval_params)


OPTAX = {
    "adamw": (
        lambda: jopt.schedule_free_adamw(0.05, 3, 0.8, 0.99, 1e-6, 0.1, form="optax"),
        lambda: optax.contrib.schedule_free_adamw(0.05, 3, 0.8, 0.99, 1e-6, 0.1),
    ),
    "sgd": (
        lambda: jopt.schedule_free_sgd(0.1, 2, 0.8, 0.05, 1.0, form="optax"),
        lambda: optax.contrib.schedule_free_sgd(0.1, 2, 0.8, 0.05, 1.0),
    ),
    "wrapper": (
        lambda: jopt.schedule_free(
            jopt.adam(optax.linear_schedule(0.0, 0.05, 3), b1=0.0),
            optax.linear_schedule(0.0, 0.05, 3),
            b1=0.8,
            form="optax",
        ),
        lambda: optax.contrib.schedule_free(
            optax.adam(optax.linear_schedule(0.0, 0.05, 3), b1=0.0),
            optax.linear_schedule(0.0, 0.05, 3),
            b1=0.8,
        ),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(OPTAX))
def test_optax_form_matches_optax_contrib(name, dtype):
    ours, theirs = OPTAX[name]
    params, grads = data(dtype)
    got = run_jopt(ours(), params, grads, jopt.schedule_free_eval_params)
    assert max_rel_error(got, run_optax(theirs(), params, grads)) <= tol("lockstep", dtype)


def test_default_differs_from_optax_only_with_a_warmup():
    params, grads = data(np.float64)
    for warmup, differs in ((None, False), (3, True)):
        got = run_jopt(
            jopt.schedule_free_adamw(0.05, warmup, weight_decay=0.1),
            params,
            grads,
            jopt.schedule_free_eval_params,
        )
        ref = run_optax(
            optax.contrib.schedule_free_adamw(0.05, warmup, weight_decay=0.1), params, grads
        )
        assert (max_rel_error(got, ref) > 1e-3) == differs


def test_wrapper_is_the_formula():
    # z ← z − αλy + Δz (Δz: SGD's step at z with a coupled decay μ, at z), weights
    # w_t = t^r α^p, x ← (1 − c)x + cz, y = (1 − β1)z + β1x, written out in NumPy
    alpha, lam, mu, b1, r, p = 0.1, 0.2, 0.05, 0.7, 0.5, 1.5
    params, grads = data(np.float64)
    tx = jopt.schedule_free(
        jopt.sgd(alpha, weight_decay=mu), alpha, b1, p, r=r, weight_decay_at_y=lam
    )
    got = run_jopt(tx, params, grads, jopt.schedule_free_eval_params)
    y = {k: v.copy() for k, v in params.items()}
    z, x = dict(y), dict(y)
    total, want = 0.0, []
    for t, g in enumerate(grads, start=1):
        w = t**r * alpha**p
        total += w
        c = w / total
        for k in y:
            zd = z[k] - alpha * lam * y[k]
            z[k] = zd - alpha * (g[k] + mu * zd)
            x[k] = (1 - c) * x[k] + c * z[k]
            y[k] = (1 - b1) * z[k] + b1 * x[k]
        want.append(({k: v.copy() for k, v in y.items()}, {k: v.copy() for k, v in x.items()}))
    assert max_rel_error(got, want) <= tol("formula", np.float64)


def test_state_and_bad_arguments():
    params = {"w": jnp.ones((2, 3)), "h": jnp.ones(2, jnp.float16)}
    state = jopt.schedule_free_adamw().init(params)
    assert isinstance(state, jopt.ScheduleFreeState)
    assert state.z["h"].dtype == jnp.float32 and state.z["w"] is not params["w"]
    assert int(state.count) == 0 and float(state.b1) == 0.9
    with pytest.raises(
        ValueError, match=r"^jopt\.schedule_free_adamw: b1=0\.0 is invalid; .*\(0, 1\]"
    ):
        jopt.schedule_free_adamw(b1=0.0)
    with pytest.raises(ValueError, match=r"^jopt\.schedule_free_sgd: form='keras' is invalid"):
        jopt.schedule_free_sgd(form="keras")
    with pytest.raises(TypeError, match=r"^jopt\.schedule_free: base_optimizer="):
        jopt.schedule_free("adam", 0.1)  # pyright: ignore[reportArgumentType]
    tx = jopt.schedule_free_radam()
    with pytest.raises(ValueError, match=r"update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
