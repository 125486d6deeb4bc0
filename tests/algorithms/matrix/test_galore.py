"""jopt.galore against pytorch_optimizer 4.1.0's GaLore in lockstep (the same gradients,
and the same projector: pytorch_optimizer's SVD is checked against jopt's up to the signs
of the singular vectors, then replaced by it), its optax switch against
optax.contrib.galore, and the contract under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from pytorch_optimizer import GaLore
from pytorch_optimizer.optimizer.utils.galore import GaLoreProjector

import jopt
from tests.support.tolerances import tol

SHAPES = {"w": (5, 3), "v": (3, 4), "b": (4,)}  # tall (right), wide (left), a vector


def init(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {k: jnp.asarray(rng.normal(size=s), dtype) for k, s in SHAPES.items()}


def loss(p):
    w, v, b = p["w"], p["v"], p["b"]
    return jnp.sum(jnp.tanh(w @ v + b) ** 2) + jnp.sum(jnp.sin(w)) + jnp.sum(v**2)


GRAD = jax.jit(jax.grad(loss))


@pytest.mark.parametrize("gap", [1, 9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_galore_in_lockstep_with_pytorch_optimizer(dtype, gap, monkeypatch):
    lr, rank, scale, steps = 0.05, 2, 0.25, 8
    params = init(dtype)
    tp = {k: torch.tensor(np.asarray(x)) for k, x in params.items()}
    groups = [
        {"params": [tp["w"], tp["v"]], "rank": rank, "update_proj_gap": gap, "scale": scale,
         "projection_type": "std"},
        {"params": [tp["b"]]},
    ]  # fmt: skip
    ref = GaLore(groups, lr=lr)
    tx = jopt.galore(lr, rank=rank, update_proj_gap=gap, scale=scale)
    state, step = tx.init(params), jax.jit(tx.update)

    # pytorch_optimizer's projector is checked against jopt's, then replaced by it
    original, ours, seen = GaLoreProjector.get_orthogonal_matrix, {}, []

    def same_projector(self, weights, projection_type, from_random_matrix=False):
        theirs = original(self, weights, projection_type, from_random_matrix)
        mine = ours[tuple(weights.shape)]
        a, b = theirs.double().numpy(), mine.double().numpy()
        # the same subspace (P Pᵀ), each vector equal up to its sign (|⟨p_i, q_i⟩| = 1)
        outer = (lambda x: x.T @ x) if projection_type == "right" else (lambda x: x @ x.T)
        np.testing.assert_allclose(outer(a), outer(b), atol=2e-5)
        cos = np.sum(a * b, axis=1 if projection_type == "right" else 0)
        np.testing.assert_allclose(np.abs(cos), 1.0, atol=2e-5)
        seen.append(np.sign(cos))
        return mine

    monkeypatch.setattr(GaLoreProjector, "get_orthogonal_matrix", same_projector)
    err = 0.0
    for _ in range(steps):
        g = GRAD(params)
        u, state = step(g, state, params)
        params = optax.apply_updates(params, u)
        proj = state[0].projector
        ours[(5, 3)] = torch.tensor(np.asarray(proj["w"]).T)  # right: Qᵀ (r × n)
        ours[(3, 4)] = torch.tensor(np.asarray(proj["v"]))  # left: P (m × r)
        for k, x in tp.items():
            x.grad = torch.tensor(np.asarray(g[k]))
        ref.step()
        for k, x in tp.items():
            want = x.detach().numpy()
            err = max(
                err, float(np.max(np.abs(np.asarray(params[k]) - want)) / np.max(np.abs(want)))
            )
    assert len(seen) == (2 * steps if gap == 1 else 2)  # the refreshes: steps 1 (and every one)
    assert err <= tol("lockstep", dtype), err


def test_optax_switch_is_optax_contrib_galore():
    params = init(np.float64, 1)
    kw = dict(rank=2, update_proj_gap=3, scale=1.0)
    ours = jopt.galore(
        0.05, **kw, projection_type="reverse_std", base_optimizer=jopt.scale_by_adam()
    )
    theirs = optax.contrib.galore(0.05, **kw, base_optimizer=jopt.scale_by_adam())
    ps, ss, pt, st = params, ours.init(params), params, theirs.init(params)
    for _ in range(7):
        u, ss = ours.update(GRAD(ps), ss, ps)
        ps = optax.apply_updates(ps, u)
        with jax.numpy_dtype_promotion("standard"):  # optax's galore mixes dtypes
            v, st = theirs.update(GRAD(pt), st, pt)
        pt = optax.apply_updates(pt, v)
        jopt.testing.assert_trees_close(ps, pt, "jopt.galore (optax switch) vs optax")


def test_full_rank_galore_with_scale_one_is_its_base_optimizer():
    # P Pᵀ = I at full rank (to the float32 of the SVD), so with the identity as base
    # optimizer (Adam's elementwise denominators are not basis-free) it is descent on g
    params = init(np.float64, 2)
    tx = jopt.galore(0.1, rank=8, scale=1.0, base_optimizer=optax.identity())
    u, _ = tx.update(GRAD(params), tx.init(params), params)
    for k, g in GRAD(params).items():
        np.testing.assert_allclose(np.asarray(u[k]), -0.1 * np.asarray(g), rtol=1e-5, atol=1e-7)


def test_contract_under_jit():
    params = {
        "w": jnp.ones((5, 3), jnp.float32) + jnp.eye(5, 3, dtype=jnp.float32),
        "b": jnp.linspace(-1.0, 1.0, 4),
    }
    grads = jax.tree.map(lambda p: 0.5 * p + 0.1, params)
    tx = jopt.galore(0.1, rank=2, update_proj_gap=2, weight_decay=0.01)
    jopt.testing.check_transformation(tx, params, grads, steps=3, require_count=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"jopt\.galore: rank=0 is invalid"):
        jopt.galore(rank=0)
    with pytest.raises(ValueError, match=r"projection_type='left' is invalid"):
        jopt.scale_by_galore(projection_type="left")
