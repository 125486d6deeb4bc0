"""jopt.lion and jopt.scale_by_lion against the paper's Lion written out in NumPy
(float64), and the state."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close, gradients

STEPS = 12


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def test_lion_is_the_papers_algorithm():
    shapes = {"w": (3, 4), "b": (4,), "s": ()}
    params, grads_seq = tree(shapes, 3), [tree(shapes, 40 + i) for i in range(STEPS)]
    b1, b2, lr, wd = 0.8, 0.95, 0.01, 0.5
    theta, m, theirs = {k: v.copy() for k, v in params.items()}, dict.fromkeys(params, 0.0), []
    for grads in grads_seq:
        for k, g in grads.items():
            update = np.sign(b1 * m[k] + (1 - b1) * g)
            theta[k] = theta[k] - lr * (update + wd * theta[k])
            m[k] = b2 * m[k] + (1 - b2) * g
        theirs.append({k: x.copy() for k, x in theta.items()})
    ours, _ = trajectory.fed(jopt.lion(lr, b1, b2, weight_decay=wd), params, grads_seq)
    assert_steps_close(ours, theirs)


def test_scale_by_lion_on_complex_gradients():
    # sign(c) = c/|c| for complex c (jnp.sign's rule); 0 where c = 0
    grads = gradients(12, complex_=True)
    grads[0][2] = 0.0  # m_0 = 0 and g = 0: the interpolation is exactly 0
    b1, b2, m, expected = 0.7, 0.9, np.zeros(5, complex), []
    for g in grads:
        c = b1 * m + (1 - b1) * g
        expected.append(np.where(c == 0, 0, c / np.where(c == 0, 1, np.abs(c))))
        m = b2 * m + (1 - b2) * g
    assert_steps_close(trajectory.updates(jopt.scale_by_lion(b1, b2), grads), expected)


def test_state_is_the_momentum():
    state = jopt.scale_by_lion(mu_dtype=jnp.bfloat16).init({"w": jnp.zeros(3)})
    assert isinstance(state, jopt.ScaleByLionState) and state.mu["w"].dtype == jnp.bfloat16
    assert len(jopt.lion().init({"w": jnp.zeros(3)})) == 2  # no decay step unless asked
    assert len(jopt.lion(weight_decay=0.1).init({"w": jnp.zeros(3)})) == 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_lion_in_lockstep_with_pytorch_optimizer(dtype):
    # pytorch_optimizer 4.1.0's Lion (the issue's reference): decoupled decay
    # θ ← θ(1 − αλ), then θ ← θ − α·sign(lerp(m, g, 1 − β1)), m ← lerp(m, g, 1 − β2).
    from pytorch_optimizer import Lion

    tx = jopt.lion(1e-2, b1=0.8, b2=0.95, weight_decay=0.3)
    make = lambda ps: Lion(ps, lr=1e-2, betas=(0.8, 0.95), weight_decay=0.3)  # noqa: E731
    pto_lockstep.assert_lockstep(tx, make, dtype)
