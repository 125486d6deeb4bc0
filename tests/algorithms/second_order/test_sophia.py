"""jopt.sophia against pytorch_optimizer 4.1.0's SophiaH in lockstep (the same gradient and
the same Hessian-diagonal estimate each step), its optax switch against
optax.contrib.sophia, Hutchinson's estimator, and the contract under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from pytorch_optimizer import SophiaH

import jopt
from tests.support.tolerances import tol

SHAPES = {"w": (3, 4), "b": (4,)}


def init(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {k: jnp.asarray(rng.normal(size=s), dtype) for k, s in SHAPES.items()}


def loss(p):
    return sum(jnp.sum(0.5 * x**2 + 0.3 * jnp.sin(3.0 * x)) for x in jax.tree.leaves(p))


GRAD = jax.jit(jax.grad(loss))


def given_hessian():
    """An estimator that returns the ``hessian=`` the update was given (the test's)."""

    def update(updates, state, params=None, *, hessian, **extra):
        return hessian, state

    return optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sophia_in_lockstep_with_pytorch_optimizer_sophiah(dtype):
    lr, betas, wd, clip, k, eps, steps = 0.05, (0.9, 0.8), 0.1, 0.2, 2, 1e-12, 8
    params = init(dtype)
    tp = [torch.tensor(np.asarray(params[key])) for key in SHAPES]
    ref = SophiaH(tp, lr=lr, betas=betas, weight_decay=wd, p=clip, update_period=k, eps=eps)
    tx = jopt.sophia(
        lr, *betas, eps, wd, gamma=1.0, clip_threshold=clip, update_interval=k,
        hessian_diagonal_fn=given_hessian(),
    )  # fmt: skip
    state, step = tx.init(params), jax.jit(tx.update)
    estimate = jax.jit(jopt.hutchinson_estimator_diag_hessian().update, static_argnames="obj_fn")
    hstate, err = jopt.hutchinson_estimator_diag_hessian().init(params), 0.0
    for t in range(steps):
        g = GRAD(params)
        h, hstate = estimate(g, hstate, params, obj_fn=loss)  # Gaussian probes
        for key, x in zip(SHAPES, tp, strict=True):
            x.grad = torch.tensor(np.asarray(g[key]))
        ref.step(
            hessian=[torch.tensor(np.asarray(h[key])) for key in SHAPES] if t % k == 0 else None
        )
        u, state = step(g, state, params, hessian=h)
        params = optax.apply_updates(params, u)
        for key, x in zip(SHAPES, tp, strict=True):
            want = x.detach().numpy()
            err = max(
                err, float(np.max(np.abs(np.asarray(params[key]) - want)) / np.max(np.abs(want)))
            )
    assert err <= tol("lockstep", dtype), err


def test_optax_switch_is_optax_contrib_sophia():
    params = init(np.float64, 1)
    kw = dict(b1=0.965, b2=0.99, eps=1e-8, weight_decay=1e-4, gamma=0.01, update_interval=3)
    ours = jopt.sophia(
        0.05, **kw, bias_correction=True, refresh_first=False,
        hessian_diagonal_fn=jopt.hutchinson_estimator_diag_hessian(distribution="rademacher"),
    )  # fmt: skip
    theirs = optax.contrib.sophia(0.05, **kw)
    ps, ss, pt, st = params, ours.init(params), params, theirs.init(params)

    def stepper(tx):
        def step(p, s):
            u, s = tx.update(jax.grad(loss)(p), s, p, obj_fn=loss)
            return optax.apply_updates(p, u), s

        return jax.jit(step)

    step_ours, step_theirs = stepper(ours), stepper(theirs)
    for _ in range(7):
        ps, ss = step_ours(ps, ss)
        with jax.numpy_dtype_promotion("standard"):  # optax's sophia mixes dtypes
            pt, st = step_theirs(pt, st)
        jopt.testing.assert_trees_close(ps, pt, "jopt.sophia (optax switch) vs optax")


def test_sophia_is_the_papers_algorithm():
    # Algorithm 3 written out in NumPy, fed the same ĥ (no bias correction, h refreshed
    # at t = 1, k + 1, … before the step that uses it)
    rng = np.random.default_rng(5)
    b1, b2, eps, gamma, c, k, lr, wd = 0.9, 0.95, 1e-12, 0.05, 1.0, 3, 0.1, 0.2
    theta = rng.normal(size=5)
    gs, hs = rng.normal(size=(9, 5)), rng.normal(size=(9, 5)) ** 2
    tx = jopt.sophia(lr, b1, b2, eps, wd, gamma=gamma, clip_threshold=c, update_interval=k,
                     hessian_diagonal_fn=given_hessian())  # fmt: skip
    p, s, m, h, th = jnp.asarray(theta), None, np.zeros(5), np.zeros(5), theta.copy()
    s = tx.init(p)
    for t in range(9):
        m = b1 * m + (1 - b1) * gs[t]
        if t % k == 0:
            h = b2 * h + (1 - b2) * hs[t]
        th = th - lr * wd * th - lr * np.clip(m / np.maximum(gamma * h, eps), -c, c)
        u, s = tx.update(jnp.asarray(gs[t]), s, p, hessian=jnp.asarray(hs[t]))
        p = optax.apply_updates(p, u)
        np.testing.assert_allclose(np.asarray(p), th, rtol=tol("formula"), atol=1e-14)


def test_hutchinson_rademacher_is_optaxs_and_gaussian_is_unbiased():
    params = {"a": jnp.asarray([0.3, -1.2, 0.5]), "b": jnp.asarray(0.7)}

    def f(p):  # a coupled objective: its Hessian is not diagonal
        x = jnp.concatenate([p["a"], p["b"][None]])
        return 0.5 * x @ A @ x + jnp.sum(jnp.cos(x))

    A = jnp.asarray(np.random.default_rng(2).normal(size=(4, 4)))
    A = A + A.T
    ours = jopt.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(7), distribution="rademacher")
    theirs = optax.contrib.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(7))
    so, st = ours.init(params), theirs.init(params)
    for _ in range(2):
        eo, so = ours.update(None, so, params, obj_fn=f)
        et, st = theirs.update(None, st, params, obj_fn=f)
        jopt.testing.assert_trees_close(eo, et, "Rademacher probes vs optax's")
    x = np.concatenate([np.asarray(params["a"]), [0.7]])
    diag = np.diag(np.asarray(A)) - np.cos(x)  # the exact Hessian diagonal
    gauss = jopt.hutchinson_estimator_diag_hessian(num_samples=20000)
    e, _ = jax.jit(gauss.update, static_argnames="obj_fn")(
        None, gauss.init(params), params, obj_fn=f
    )
    got = np.concatenate([np.asarray(e["a"]), [float(e["b"])]])
    np.testing.assert_allclose(got, diag, atol=0.15)  # ~4 standard errors of the mean


def test_contract_under_jit():
    params = {"w": jnp.ones((3, 4), jnp.float32), "b": jnp.linspace(-1, 1, 4)}
    grads = jax.tree.map(lambda p: 0.5 * p + 0.1, params)
    tx = jopt.sophia(0.1, weight_decay=0.1, update_interval=2)
    f = lambda p: sum(jnp.sum(x.astype(jnp.float32) ** 4) for x in jax.tree.leaves(p))  # noqa: E731
    jopt.testing.check_transformation(tx, params, grads, steps=3, require_count=True, obj_fn=f)
    with pytest.raises(ValueError, match="obj_fn"):
        tx.update(grads, tx.init(params), params)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"jopt\.sophia: update_interval=0 is invalid"):
        jopt.sophia(update_interval=0)
    with pytest.raises(ValueError, match=r"distribution='normal' is invalid"):
        jopt.hutchinson_estimator_diag_hessian(distribution="normal")
