"""jopt.momo and jopt.momo_adam against MoMo and MoMo-Adam written out in NumPy
(Schaipp et al. 2023: the proximal model step x ← (x − τd)/(1 + αλ), as the authors'
code), and against optax.contrib's momo and momo_adam (optax_weight_decay=True where a
decay is on; the same update where none is)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from optax import contrib

import jopt
from tests.algorithms.parameter_free._lockstep import DTYPES, assert_close, fed, inputs

STEPS = 8


def dot(a, b):
    return sum(float(np.sum(a[k] * b[k])) for k in a)


def values(dtype):  # the losses fed with the gradients: positive, varied
    rng = np.random.default_rng(7)
    return [float(np.asarray(1.0 + rng.random(), dtype)) for _ in range(STEPS)]


def momo_np(params, grads, losses, lr, beta, lb, wd, paper=True, adapt=False, floor=None):
    x, path = {k: v.copy() for k, v in params.items()}, []
    d = {k: np.zeros_like(v) for k, v in x.items()}
    barf = gamma = 0.0
    floor = lb if floor is None else floor
    for t, (g, f) in enumerate(zip(grads, losses, strict=True)):
        b = 0.0 if t == 0 else beta
        barf = b * barf + (1 - b) * f
        d = {k: b * d[k] + (1 - b) * g[k] for k in x}
        gamma = b * gamma + (1 - b) * dot(g, x)
        c, norm, iprod = 1 + lr * wd, dot(d, d), dot(d, x)
        if adapt:
            cap = c * (barf - gamma) + iprod
            if cap < c * lb:
                lb = max(cap / (2 * c), floor)
        tau = min(lr, max(c * (barf - lb - gamma) + iprod, 0.0) / norm)
        if adapt:
            lb = max(barf + iprod - gamma - 0.5 * tau * norm, floor)
        if paper:
            x = {k: (x[k] - tau * d[k]) / c for k in x}
        else:
            x = {k: x[k] / c - tau * d[k] for k in x}
        path.append(x)
    return path


def momo_adam_np(params, grads, losses, lr, b1, b2, eps, lb, wd, paper=True):
    x, path = {k: v.copy() for k, v in params.items()}, []
    m = {k: np.zeros_like(v) for k, v in x.items()}
    v = {k: np.zeros_like(a) for k, a in x.items()}
    barf = gamma = 0.0
    for t, (g, f) in enumerate(zip(grads, losses, strict=True), start=1):
        barf = b1 * barf + (1 - b1) * f
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in x}
        v = {k: b2 * v[k] + (1 - b2) * g[k] ** 2 for k in x}
        gamma = b1 * gamma + (1 - b1) * dot(g, x)
        D = {k: eps + np.sqrt(v[k] / (1 - b2**t)) for k in x}
        rho, c = 1 - b1**t, 1 + lr * wd
        norm = sum(float(np.sum(m[k] ** 2 / D[k])) for k in x)
        tau = min(lr / rho, max(c * (barf - rho * lb - gamma) + dot(m, x), 0.0) / norm)
        if paper:
            x = {k: (x[k] - tau * m[k] / D[k]) / c for k in x}
        else:
            x = {k: x[k] / c - tau * m[k] / D[k] for k in x}
        path.append(x)
    return path


def optax_fed(tx, params, grads, dtype, losses):
    with jax.numpy_dtype_promotion("standard"):  # optax's momo mixes dtypes
        return fed(tx, params, grads, dtype, value=losses)


@pytest.mark.parametrize("dtype", DTYPES)
def test_momo_is_the_papers_and_optaxs(dtype):
    params, grads = inputs(dtype, STEPS)
    losses = values(dtype)
    # α = 0.07: the steps are capped at α (steps 1, 6-8) or Polyak's (2-5)
    kw = dict(learning_rate=0.07, beta=0.8, lower_bound=-0.5, weight_decay=0.1)
    ours = fed(jopt.momo(**kw), params, grads, dtype, value=losses)
    assert_close(ours, momo_np(params, grads, losses, 0.07, 0.8, -0.5, 0.1), dtype)
    optax_form = fed(jopt.momo(**kw, optax_weight_decay=True), params, grads, dtype, value=losses)
    theirs = momo_np(params, grads, losses, 0.07, 0.8, -0.5, 0.1, paper=False)
    assert_close(optax_form, theirs, dtype)
    assert_close(optax_form, optax_fed(contrib.momo(**kw), params, grads, dtype, losses), dtype)
    # the online lower bound (MoMo*), no decay: both forms are optax's
    kw = dict(learning_rate=0.3, beta=0.8, lower_bound=-2.0, adapt_lower_bound=True)
    ours = fed(jopt.momo(**kw), params, grads, dtype, value=losses)
    assert_close(ours, momo_np(params, grads, losses, 0.3, 0.8, -2.0, 0.0, adapt=True), dtype)
    assert_close(ours, optax_fed(contrib.momo(**kw), params, grads, dtype, losses), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_momo_adam_is_the_papers_and_optaxs(dtype):
    params, grads = inputs(dtype, STEPS)
    losses = values(dtype)
    # α = 0.1: Polyak's step at steps 1-5 and 7, capped at α/ρ_t at steps 6 and 8
    kw = dict(learning_rate=0.1, b1=0.8, b2=0.9, eps=1e-3, lower_bound=0.5, weight_decay=0.1)
    ours = fed(jopt.momo_adam(**kw), params, grads, dtype, value=losses)
    theirs = momo_adam_np(params, grads, losses, 0.1, 0.8, 0.9, 1e-3, 0.5, 0.1)
    assert_close(ours, theirs, dtype)
    optax_form = fed(
        jopt.momo_adam(**kw, optax_weight_decay=True), params, grads, dtype, value=losses
    )
    theirs = momo_adam_np(params, grads, losses, 0.1, 0.8, 0.9, 1e-3, 0.5, 0.1, paper=False)
    assert_close(optax_form, theirs, dtype)
    ref = optax_fed(contrib.momo_adam(**kw), params, grads, dtype, losses)
    assert_close(optax_form, ref, dtype)
    kw = dict(learning_rate=0.1, b1=0.8, b2=0.9, lower_bound=-2.0, adapt_lower_bound=True)
    ours = fed(jopt.momo_adam(**kw), params, grads, dtype, value=losses)
    assert_close(ours, optax_fed(contrib.momo_adam(**kw), params, grads, dtype, losses), dtype)


def test_update_needs_the_loss_and_checks_arguments():
    tx, x = jopt.momo(), jnp.ones(2)
    with pytest.raises(ValueError, match=r"jopt.momo: update\(\) needs the loss"):
        tx.update(x, tx.init(x), x)
    with pytest.raises(ValueError, match=r"jopt.momo_adam: b2=1.0 is invalid; b2 must be in"):
        jopt.momo_adam(b2=1.0)
    state = jopt.momo_adam().init({"w": x})
    assert isinstance(state, jopt.MomoAdamState) and state.exp_avg_sq["w"].shape == (2,)
    # jit: the loss is a traced argument
    step = jax.jit(lambda g, s, p, v: tx.update(g, s, p, value=v))
    out, state = step(x, tx.init(x), x, jnp.asarray(1.0))
    assert isinstance(state, jopt.MomoState) and int(state.count) == 1
