"""jopt.sam against pytorch_optimizer 4.1.0's SAM (SGD base) in lockstep, fed the same two
gradients each step, and against optax.contrib.sam (the same inner transforms); opaque mode;
the contract under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from pytorch_optimizer import SAM

import jopt
from tests.support.tolerances import tol

STEPS = 6
SHAPES = {"w": (3, 4), "b": (4,)}


def init(dtype):
    rng = np.random.default_rng(0)
    return {k: jnp.asarray(rng.normal(size=s), dtype) for k, s in SHAPES.items()}


def loss(p):
    return sum(jnp.sum(0.5 * x**2 + jnp.sin(3.0 * x)) for x in jax.tree.leaves(p))


GRAD = jax.jit(jax.grad(loss))


def rel(a, b):
    return max(
        float(np.max(np.abs(np.asarray(a[k]) - b[k].detach().numpy())))
        / float(np.max(np.abs(b[k].detach().numpy())))
        for k in a
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sam_in_lockstep_with_pytorch_optimizer(dtype):
    lr, momentum, rho = 0.1, 0.9, 0.05
    params = init(dtype)
    torch_params = {k: torch.tensor(np.asarray(v)) for k, v in params.items()}
    for t in torch_params.values():
        t.requires_grad_(True)
    ref = SAM(list(torch_params.values()), torch.optim.SGD, rho=rho, lr=lr, momentum=momentum)
    tx = jopt.sam(jopt.sgd(lr, momentum=momentum), jopt.chain(jopt.normalize(), jopt.gd(rho)))
    state = tx.init(params)
    step = jax.jit(tx.update)
    outer_err = perturbed_err = 0.0
    for _ in range(STEPS):
        for call in (ref.first_step, ref.second_step):
            g = GRAD(params)
            before = {k: t.detach().clone() for k, t in torch_params.items()}
            for k, t in torch_params.items():
                t.grad = torch.tensor(np.asarray(g[k]))
            call()
            u, state = step(g, state, params)
            params = optax.apply_updates(params, u)
            if call == ref.first_step:  # the perturbation ε itself, against its size
                eps = {k: torch_params[k] - before[k] for k in before}
                perturbed_err = max(perturbed_err, rel(u, eps))
            else:
                outer_err = max(outer_err, rel(params, torch_params))
    assert outer_err <= tol("lockstep", dtype), outer_err
    # pytorch_optimizer takes ‖g‖ in float32 even for float64 tensors
    # (get_global_gradient_norm: .float()), so its perturbed point is float32-exact only;
    # the outer step restores the saved θ and does not see it.
    assert perturbed_err <= tol("lockstep", np.float32), perturbed_err


@pytest.mark.parametrize(("sync_period", "reset_state"), [(2, True), (3, False)])
def test_sam_equals_optax_contrib_sam(sync_period, reset_state):
    params = init(np.float64)
    # optax's own adam breaks strict promotion: jopt's inner transforms in both
    inner = lambda: (jopt.adam(0.05), jopt.chain(jopt.normalize(0.0), jopt.gd(0.1)))  # noqa: E731
    ours = jopt.sam(*inner(), sync_period=sync_period, reset_state=reset_state)
    theirs = optax.contrib.sam(*inner(), sync_period=sync_period, reset_state=reset_state)
    ps, ss, pt, st = params, ours.init(params), params, theirs.init(params)
    for _ in range(3 * sync_period):
        u, ss = ours.update(GRAD(ps), ss, ps)
        ps = optax.apply_updates(ps, u)
        with jax.numpy_dtype_promotion("standard"):  # optax's sam mixes int32 and float
            v, st = theirs.update(GRAD(pt), st, pt)
        pt = optax.apply_updates(pt, v)
        jopt.testing.assert_trees_close(ps, pt, "jopt.sam vs optax.contrib.sam")


def test_sam_with_optax_normalize_is_eps_zero():
    g = {"w": jnp.arange(3.0, dtype=jnp.float64)}
    ours = jopt.normalize(eps=0.0).update(g, optax.EmptyState())[0]
    theirs = optax.contrib.normalize().update(g, optax.contrib.NormalizeState())[0]
    jopt.testing.assert_trees_close(ours, theirs)
    zero = jopt.normalize().update({"w": jnp.zeros(3)}, optax.EmptyState())[0]
    np.testing.assert_array_equal(zero["w"], 0.0)  # pytorch_optimizer's ε: no NaN


def test_opaque_mode_is_one_transparent_sam_step():
    params = init(np.float64)
    grad_fn = lambda p, i: GRAD(p)  # noqa: E731
    opaque = jopt.sam(jopt.sgd(0.1, momentum=0.5), opaque_mode=True)
    transparent = jopt.sam(jopt.sgd(0.1, momentum=0.5))
    po, so, pt, st = params, opaque.init(params), params, transparent.init(params)
    assert so.cache is None
    theirs = optax.contrib.sam(
        optax.sgd(0.1, momentum=0.5),
        optax.chain(optax.contrib.normalize(), optax.sgd(0.05)),
        opaque_mode=True,
    )
    px, sx = params, theirs.init(params)
    step = jax.jit(lambda g, s, p: opaque.update(g, s, p, grad_fn=grad_fn))
    for _ in range(3):
        u, so = step(GRAD(po), so, po)
        po = optax.apply_updates(po, u)
        for _ in range(2):
            u, st = transparent.update(GRAD(pt), st, pt)
            pt = optax.apply_updates(pt, u)
        with jax.numpy_dtype_promotion("standard"):
            u, sx = theirs.update(GRAD(px), sx, px, grad_fn=grad_fn)
        px = optax.apply_updates(px, u)
        jopt.testing.assert_trees_close(po, pt, "opaque vs transparent")
        jopt.testing.assert_trees_close(po, px, "opaque vs optax's opaque (ε differs: 1e-12)")
    with pytest.raises(ValueError, match="grad_fn"):
        opaque.update(GRAD(po), so, po)


def test_contract_under_jit():
    params = {"w": jnp.ones((3, 4), jnp.float32), "b": jnp.linspace(-1, 1, 4)}
    grads = jax.tree.map(lambda p: 0.5 * p + 0.1, params)
    jopt.testing.check_transformation(jopt.sam(jopt.adam(0.1)), params, grads, steps=4)
    jopt.testing.check_transformation(jopt.normalize(), params, grads)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"jopt\.sam: sync_period=0 is invalid"):
        jopt.sam(jopt.sgd(0.1), sync_period=0)
    with pytest.raises(TypeError, match=r"jopt\.sam: optimizer="):
        jopt.sam("sgd")
