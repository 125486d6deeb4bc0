"""jopt.lbfgs (native L-BFGS with the zoom line search) in lockstep with optax.lbfgs, its
minimum against scipy.optimize's, the two-loop direction against a NumPy two-loop, the
strong Wolfe conditions of the accepted step, and the contract under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import jopt
from tests.support.tolerances import tol


def objective(dtype):
    scale = jnp.arange(1.0, 17.0, dtype=dtype)

    def f(p):
        x = jnp.concatenate([p["w"].ravel(), p["b"]])
        return jnp.sum(scale * (x - 1.0) ** 2) + 0.1 * jnp.sum(x**4) + jnp.sum(jnp.sin(p["w"]))

    return f


def run(tx, f, params, steps):
    value_and_grad = optax.value_and_grad_from_state(f)

    @jax.jit
    def step(p, s):
        v, g = value_and_grad(p, state=s)
        u, s = tx.update(g, s, p, value=v, grad=g, value_fn=f)
        return optax.apply_updates(p, u), s

    out, state = [], tx.init(params)
    for _ in range(steps):
        params, state = step(params, state)
        out.append(params)
    return out, state


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_in_lockstep_with_optax(dtype):
    f = objective(dtype)
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.normal(size=(3, 4)), dtype), "b": jnp.zeros(4, dtype)}
    ours, _ = run(jopt.lbfgs(memory_size=3), f, params, 8)
    with jax.numpy_dtype_promotion("standard"):  # optax's line search mixes dtypes
        theirs, _ = run(optax.lbfgs(memory_size=3), f, params, 8)
    err = max(
        float(jnp.max(jnp.abs(a[k] - b[k])) / jnp.max(jnp.abs(b[k])))
        for a, b in zip(ours, theirs, strict=True)
        for k in a
    )
    assert err <= tol("lockstep", dtype), err


def test_lbfgs_reaches_scipys_minimum_of_rosenbrock():
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    want = scipy.optimize.minimize(
        scipy.optimize.rosen, x0, jac=scipy.optimize.rosen_der, method="L-BFGS-B", tol=1e-14
    ).x

    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    got, _ = run(jopt.lbfgs(), rosen, jnp.asarray(x0), 60)
    np.testing.assert_allclose(np.asarray(got[-1]), want, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got[-1]), 1.0, atol=1e-6)


def numpy_two_loop(g, pairs, gamma):
    """P g by Nocedal & Wright's Algorithm 7.4, pairs (s, y) oldest first."""
    q, alphas = g.copy(), []
    for s, y in reversed(pairs):
        rho = 1.0 / (y @ s)
        alphas.append(rho * (s @ q))
        q = q - alphas[-1] * y
    r = gamma * q
    for (s, y), alpha in zip(pairs, reversed(alphas), strict=True):
        rho = 1.0 / (y @ s)
        r = r + (alpha - rho * (y @ r)) * s
    return r


def test_two_loop_direction_is_the_numpy_two_loop():
    rng = np.random.default_rng(4)
    m, ws = 3, rng.normal(size=(7, 6))
    gs = [ws[k] * np.linspace(1, 3, 6) + 0.1 * rng.normal(size=6) for k in range(7)]
    tx = jopt.scale_by_lbfgs(memory_size=m)
    state = tx.init(jnp.asarray(ws[0]))
    for k in range(7):
        got, state = tx.update(jnp.asarray(gs[k]), state, jnp.asarray(ws[k]))
        pairs = [(ws[i + 1] - ws[i], gs[i + 1] - gs[i]) for i in range(max(k - m, 0), k)]
        if k == 0:
            gamma = min(1.0, 1.0 / np.linalg.norm(gs[0]))
        else:
            s, y = pairs[-1]
            gamma = (s @ y) / (y @ y)
        want = numpy_two_loop(gs[k], pairs, gamma)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, err_msg=f"step {k}")


def test_the_accepted_step_meets_the_strong_wolfe_conditions():
    f = lambda w: jnp.sum(jnp.cosh(w - 1.0)) + jnp.sum(w**4)  # noqa: E731
    w = jnp.asarray([0.5, -2.0, 3.0])
    v, g = jax.value_and_grad(f)(w)
    c1, c2 = 1e-4, 0.9
    tx = jopt.scale_by_zoom_linesearch(30, slope_rtol=c1, curv_rtol=c2, approx_dec_rtol=None)
    u, state = tx.update(-g, tx.init(w), w, value=v, grad=g, value_fn=f)
    eta, s0 = float(state.learning_rate), float(-g @ g)
    w1 = np.asarray(w + u)
    assert float(f(w1)) <= float(v) + c1 * eta * s0
    assert abs(float(jax.grad(f)(w1) @ -g)) <= c2 * abs(s0)
    assert float(state.value) == pytest.approx(float(f(w1)))
    assert int(state.info.num_linesearch_steps) >= 1


def test_contract_under_jit():
    params = {"w": jnp.ones((3, 4), jnp.float32), "b": jnp.linspace(-1.0, 1.0, 4)}
    grads = jax.tree.map(lambda p: 0.5 * p + 0.1, params)
    jopt.testing.check_transformation(
        jopt.chain(jopt.scale_by_lbfgs(3), jopt.scale_by_learning_rate(0.1)),
        params,
        grads,
        require_count=True,
    )

    # one dtype: in a float32 + float64 tree the step size (float64) carries the float32
    # leaves' rounding, which jit (FMA) and eager round differently, into the float64 leaf
    params = jax.tree.map(lambda x: x.astype(jnp.float32), params)

    def f(p):
        return sum(jnp.sum(jnp.square(x - 2.0) + jnp.cos(x)) for x in jax.tree.leaves(p))

    v, g = jax.value_and_grad(f)(params)
    jopt.testing.check_transformation(jopt.lbfgs(), params, g, steps=3, value=v, grad=g, value_fn=f)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"jopt\.lbfgs: memory_size=0 is invalid"):
        jopt.lbfgs(memory_size=0)
    with pytest.raises(ValueError, match=r"initial_guess_strategy='two' is invalid"):
        jopt.scale_by_zoom_linesearch(10, initial_guess_strategy="two")
    with pytest.raises(ValueError, match="value_fn"):
        tx = jopt.scale_by_zoom_linesearch(10)
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))
