"""jopt.mechanize against Mechanic written out in NumPy (Cutkosky, Defazio & Mehta 2023,
Algorithm 1 as the authors' JAX code runs it: Δ recomputed from x_ref, no clipping of
h in the reward), wrapping SGD with momentum (also written out), and against
optax.contrib.mechanize (clip_reward=True). Displacements x_t − x_ref are compared, so
that small steps are checked to full relative precision."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from optax import contrib

import jopt
from tests.algorithms.parameter_free._lockstep import DTYPES, assert_close, fed, inputs

STEPS = 8
LR, MU = 0.1, 0.5  # the wrapped jopt.sgd(LR, momentum=MU): u = −LR·b, b ← MU·b + g


def dot(a, b):
    return sum(float(np.sum(a[k] * b[k])) for k in a)


def mechanic_np(params, grads, wd, eps, s_init, n, clip=False):
    x0 = {k: v.copy() for k, v in params.items()}
    x, path = {k: v.copy() for k, v in params.items()}, []
    buf = {k: np.zeros_like(v) for k, v in x.items()}
    betas = np.array([1 - 0.1**i for i in range(1, n + 1)])
    r, m, v, s = np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, s_init)
    for t, g in enumerate(grads):
        buf = {k: (MU * buf[k] + g[k]) if t else g[k].copy() for k in x}
        u = {k: -LR * buf[k] for k in x}
        total = s.sum()
        delta = {k: (x0[k] - x[k]) / (total + eps) for k in x}
        pull = wd * total * np.sqrt(dot(g, g)) / (np.sqrt(dot(x, x)) + eps)
        h = dot({k: g[k] + pull * x[k] for k in x}, delta)
        reward = np.clip(h, -m, m) if clip else h
        m = np.maximum(betas * m, abs(h) + eps)
        v = betas**2 * v + h**2
        r = betas * r + reward * s
        s = (s_init / n * m + np.maximum(r, 0.0)) / (np.sqrt(v) + eps)
        x = {k: x0[k] - s.sum() * (delta[k] - u[k]) for k in x}
        path.append(x)
    return path


def moved(path, params):
    return [{k: x[k] - params[k] for k in x} for x in path]


def moved_fed(tx, params, grads, dtype):
    path = fed(tx, params, grads, dtype)
    return jax.tree.map(lambda a, p: a - p, path, params)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mechanize_is_the_papers_and_optaxs(dtype):
    params, grads = inputs(dtype, STEPS)
    base = jopt.sgd(LR, momentum=MU)
    tx = jopt.mechanize(base, weight_decay=0.1, eps=1e-6, s_init=0.05, num_betas=4)
    ours = moved_fed(tx, params, grads, dtype)
    assert_close(ours, moved(mechanic_np(params, grads, 0.1, 1e-6, 0.05, 4), params), dtype)
    optax_form = jopt.mechanize(
        base, weight_decay=0.1, eps=1e-6, s_init=0.05, num_betas=4, clip_reward=True
    )
    ours = moved_fed(optax_form, params, grads, dtype)
    theirs = mechanic_np(params, grads, 0.1, 1e-6, 0.05, 4, clip=True)
    assert_close(ours, moved(theirs, params), dtype)
    ref = contrib.mechanize(base, weight_decay=0.1, eps=1e-6, s_init=0.05, num_betas=4)
    with jax.numpy_dtype_promotion("standard"):
        assert_close(ours, moved_fed(ref, params, grads, dtype), dtype)


def test_state_and_bad_arguments():
    import jax.numpy as jnp

    state = jopt.mechanize(jopt.adam(1.0)).init({"w": jnp.ones(3)})
    assert isinstance(state, jopt.MechanicState) and state.s.shape == (6,)
    with pytest.raises(TypeError, match=r"jopt.mechanize: base_optimizer"):
        jopt.mechanize("adam")
    with pytest.raises(ValueError, match=r"jopt.mechanize: num_betas=0 is invalid"):
        jopt.mechanize(jopt.adam(1.0), num_betas=0)
