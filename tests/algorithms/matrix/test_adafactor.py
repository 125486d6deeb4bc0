"""jopt.adafactor and jopt.scale_by_adafactor against Shazeer & Stern's Algorithm 4 written
out in NumPy (float64, 12 steps, fed the same gradients), PyTorch's ε1, the factored state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 12
SHAPES = {"w": (3, 4), "t": (2, 3, 5), "b": (4,), "s": ()}


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def rms(x):
    return np.sqrt(np.mean(np.square(x)))


def adafactor_numpy(params, grads_seq, lr, tau, eps1, eps2, d, relative, wd, clamp=False):
    """Shazeer & Stern (2018), Algorithm 4 with the paper's row/column sums
    (``clamp``: PyTorch's ε1, on the variance estimate instead of on G²)."""
    theta = {k: v.copy() for k, v in params.items()}
    r = {k: 0.0 for k in theta}
    c = {k: 0.0 for k in theta}
    v = {k: 0.0 for k in theta}
    out = []
    for t, grads in enumerate(grads_seq, start=1):
        lr_t = lr(t - 1) if callable(lr) else lr
        rho = min(lr_t, 1 / np.sqrt(t)) if relative else lr_t
        beta = 1 - t**tau
        for k, g in grads.items():
            e1 = np.finfo(np.float64).eps if eps1 is None else eps1
            g2 = g * g if clamp else g * g + e1
            if g.ndim >= 2:
                r[k] = beta * r[k] + (1 - beta) * g2.sum(axis=-1)  # (G² + ε1) 1_m
                c[k] = beta * c[k] + (1 - beta) * g2.sum(axis=-2)  # 1_nᵀ (G² + ε1)
                total = r[k].sum(axis=-1)[..., None, None]
                if clamp:  # PyTorch's ε1 clamps the mean of the row factor
                    total = np.maximum(total, e1 * g.shape[-2] * g.shape[-1])
                vhat = r[k][..., :, None] * c[k][..., None, :] / total
            else:
                v[k] = beta * v[k] + (1 - beta) * g2
                vhat = v[k]
            u = g / (np.maximum(np.sqrt(vhat), e1) if clamp else np.sqrt(vhat))
            u_hat = u / max(1.0, rms(u) / d)
            alpha = max(eps2, rms(theta[k])) * rho
            theta[k] = theta[k] - alpha * u_hat - (lr_t * wd * theta[k] if wd else 0.0)
        out.append({k: x.copy() for k, x in theta.items()})
    return out


def test_adafactor_is_the_papers_algorithm():
    params, grads_seq = tree(SHAPES, 0), [tree(SHAPES, 10 + i) for i in range(STEPS)]
    ours, _ = trajectory.fed(jopt.adafactor(0.3), params, grads_seq)
    theirs = adafactor_numpy(params, grads_seq, 0.3, -0.8, 1e-30, 1e-3, 1.0, True, None)
    assert_steps_close(ours, theirs)


def test_adafactor_options():
    params, grads_seq = tree(SHAPES, 1), [tree(SHAPES, 20 + i) for i in range(STEPS)]
    lr = jopt.schedules.exponential_lr(0.05, 0.9)
    tx = jopt.adafactor(lr, -0.5, 1e-4, 1e-2, 1.3, relative_step=False, weight_decay=0.1)
    theirs = adafactor_numpy(
        params, grads_seq, lambda k: 0.05 * 0.9**k, -0.5, 1e-4, 1e-2, 1.3, False, 0.1
    )
    assert_steps_close(trajectory.fed(tx, params, grads_seq)[0], theirs)


@pytest.mark.parametrize("eps1", [None, 1e-2])
def test_scale_by_adafactor_with_pytorchs_epsilon(eps1):
    params, grads_seq = tree(SHAPES, 2), [tree(SHAPES, 30 + i) for i in range(STEPS)]
    grads_seq[3]["w"][1] = 0.0  # a zero row: the clamps matter there
    tx = optax.chain(
        jopt.scale_by_adafactor(-0.8, eps1, 1e-3, 1.0, eps_clamp=True),
        jopt.scale_by_learning_rate(0.1),
    )
    theirs = adafactor_numpy(params, grads_seq, 0.1, -0.8, eps1, 1e-3, 1.0, False, None, True)
    assert_steps_close(trajectory.fed(tx, params, grads_seq)[0], theirs)


def test_adafactor_state_is_factored_by_shape():
    params = {
        "w": jnp.zeros((3, 4)),
        "t": jnp.zeros((2, 3, 5)),
        "h": jnp.zeros((4, 2), jnp.float16),
        "b": jnp.zeros(4),
        "s": jnp.zeros(()),
    }
    state = jopt.scale_by_adafactor().init(params)
    assert isinstance(state, jopt.ScaleByAdafactorState)
    nu = state.nu
    assert isinstance(nu["w"], jopt.FactoredSecondMoment)
    assert (nu["w"].row.shape, nu["w"].col.shape) == ((3,), (4,))
    assert (nu["t"].row.shape, nu["t"].col.shape) == ((2, 3), (2, 5))
    assert nu["h"].row.dtype == jnp.float32  # float16 leaves keep float32 moments
    assert nu["b"].shape == (4,) and nu["s"].shape == ()
    with pytest.raises(ValueError, match="jopt.scale_by_adafactor: update.. needs params"):
        tx = jopt.scale_by_adafactor()
        tx.update(params, tx.init(params))


def test_adafactor_records_the_relative_step():
    tx = jopt.adafactor(0.4)
    params = jnp.ones(3)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for _ in range(9):
        _, state = update(jnp.ones(3), state, params)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(1 / 3)  # min(0.4, 1/sqrt(9))


def test_a_zero_row_and_a_zero_column_give_a_finite_step_as_optax():
    # Both factors of v are ε1-sized there; their product underflows in float32. The step
    # takes 1/sqrt of each factor (optax's order), so g = 0 gives 0, not 0/0.
    g = jnp.ones((4, 3), jnp.float32).at[0].set(0.0).at[:, 0].set(0.0)
    p = jnp.full((4, 3), 0.1, jnp.float32)
    ours, theirs = jopt.adafactor(1e-2), optax.adafactor(1e-2)
    u, _ = ours.update(g, ours.init(p), p)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes its float64 constants in
        v, _ = theirs.update(g, theirs.init(p), p)
    assert bool(jnp.all(jnp.isfinite(u)))
    np.testing.assert_allclose(u, v, rtol=1e-6)
