"""Issue 10's table, row by row: state and inputs that never surprise.

Donation and inject_hyperparams run over the whole registry in test_contracts.py; this
file holds the rows that need a reference of their own: the layout rule on values of
every type, float16 against closed forms, complex parameters against optax and PyTorch,
integer parameters, tree mismatches and the plateau's metric.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt

F16 = jnp.float16


def _layout(tx, params):
    state = tx.init(params)
    return jax.tree.structure(state), [(x.shape, x.dtype) for x in jax.tree.leaves(state)]


# ------------------------------------------------------------------ layout from requests


@pytest.mark.parametrize(
    "make, zeros",
    [
        (lambda z: jopt.sgd(0.1, momentum=z), [0, 0.0, np.float32(0), np.float64(0)]),
        (lambda z: jopt.sgd(0.1, 0.9, dampening=z), [0, 0.0, np.float32(0), np.float64(0)]),
        (lambda z: jopt.sgd(0.1, weight_decay=z), [0.0, np.float16(0), np.float64(0)]),
        (lambda z: jopt.rmsprop(0.1, momentum=z), [0.0, np.float32(0), np.int64(0)]),
        (lambda z: jt.SGD(0.1, momentum=z), [0, np.float32(0), np.float64(0)]),
        (lambda z: jt.Adagrad(0.1, lr_decay=z), [0, np.float32(0)]),
        (lambda z: jt.Adam(0.1, weight_decay=z), [0.0, np.float64(0)]),
        (lambda z: jk.SGD(0.1, momentum=z), [0.0, np.float32(0)]),
        (lambda z: jk.SGD(0.1, decay=z), [0.0, np.float32(0)]),
        (lambda z: jk.RMSprop(0.1, momentum=z), [0.0, np.float32(0)]),
    ],
)
def test_a_zero_of_any_python_or_numpy_type_is_the_same_request(make, zeros):
    params = {"w": jnp.ones(3)}
    layouts = {str(_layout(make(z), params)) for z in zeros}
    assert len(layouts) == 1, layouts
    assert _layout(make(None), params) == _layout(make(zeros[0]), params)


def test_a_jax_array_always_keeps_its_state():
    # It may be traced or changed later (inject_hyperparams), so its value cannot decide.
    params = {"w": jnp.ones(3)}
    off = _layout(jopt.sgd(0.1), params)
    on = _layout(jopt.sgd(0.1, momentum=jnp.asarray(0.0)), params)
    assert len(on[1]) == len(off[1]) + 1


def test_inject_hyperparams_sgd_holds_the_plain_state_plus_its_hyperparams():
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    plain = jopt.sgd(0.1).init(params)
    injected = optax.inject_hyperparams(jopt.sgd)(learning_rate=0.1).init(params)
    assert jax.tree.structure(injected.inner_state) == jax.tree.structure(plain)
    assert set(injected.hyperparams) == {"learning_rate"}


# ------------------------------------------------------------------------------ float16


def test_float16_moments_are_float32_unless_asked():
    p = {"h": jnp.zeros(3, F16), "b": jnp.zeros(3, jnp.bfloat16)}
    adam = jopt.adam(1e-3).init(p)[0]
    assert adam.mu["h"].dtype == adam.nu["h"].dtype == jnp.float32
    assert adam.mu["b"].dtype == jnp.bfloat16  # bfloat16 does not underflow: kept
    chosen = jopt.adam(1e-3, mu_dtype=F16, nu_dtype=jnp.bfloat16).init(p)[0]
    assert chosen.mu["h"].dtype == F16 and chosen.nu["h"].dtype == jnp.bfloat16


@pytest.mark.parametrize("magnitude", [1e-8, 1e-7, 1e-5, 1e-3, 1.0, 1e3, 6e4])
def test_float16_adam_first_update_is_the_closed_form(magnitude):
    g16 = jnp.asarray([magnitude, -magnitude], F16)
    tx = jopt.adam(1e-3)
    updates, _ = tx.update(g16, tx.init(jnp.zeros(2, F16)))
    g = np.asarray(g16, np.float64)
    want = -1e-3 * g / (np.abs(g) + 1e-8)  # m̂ = g, v̂ = g² at t = 1
    assert updates.dtype == F16
    np.testing.assert_allclose(np.asarray(updates, np.float64), want, rtol=1e-3, atol=1e-7)


def test_float16_learning_rate_is_applied_before_the_cast():
    # PyTorch's buffer b_t = Σ 0.99^k g grows to 5.9e5 > float16's 65 504; −α b_t does not.
    tx = jopt.sgd(1e-3, momentum=0.99)
    g = jnp.full(2, 6e4, F16)
    state = tx.init(jnp.zeros(2, F16))
    for _ in range(12):
        updates, state = tx.update(g, state)
    b = sum(0.99**k for k in range(12)) * float(g[0])
    assert b > 65504
    np.testing.assert_allclose(np.asarray(updates, np.float64), -1e-3 * b, rtol=1e-3)


def test_float16_adagrad_accumulates_past_the_float16_range():
    tx = jopt.adagrad(0.1)
    state, step = (
        tx.init(jnp.zeros(2, F16)),
        jax.jit(lambda s: tx.update(jnp.full(2, 10.0, F16), s)),
    )
    for _ in range(700):
        updates, state = step(state)
    np.testing.assert_allclose(
        np.asarray(updates, np.float64), -0.1 * 10 / np.sqrt(70000), rtol=1e-3
    )


def _float16_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "float16.py"
    spec = importlib.util.spec_from_file_location("float16_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_float16_mlp_trains_like_float32():
    bench = _float16_benchmark()
    loss16 = bench._mlp_loss(jopt, "strict", 60)
    loss32 = bench._mlp_loss(jopt, "strict", 60, dtype=jnp.float32)
    np.testing.assert_allclose(loss16, loss32, rtol=0.02)


# ------------------------------------------------------------------------------ complex


def _complex_tree(dtype):
    k = jax.random.split(jax.random.key(1), 4)
    real = jnp.float32 if dtype == jnp.complex64 else jnp.float64

    def make(a, b, shape):
        return jax.lax.complex(jax.random.normal(a, shape, real), jax.random.normal(b, shape, real))

    return {"w": make(k[0], k[1], (3, 2)), "b": make(k[2], k[3], (4,))}


def _complex_grad(p):
    # ∂/∂conj(z) convention of JAX for L = Σ|z − c|²: the gradient JAX gives is conj(∂L/∂z̄)…
    # any fixed smooth map works for comparing two optimizers on the same inputs.
    return jax.tree.map(lambda z: 2.0 * (z - jnp.asarray(0.5 - 0.25j, z.dtype)) + 0.1 * z * z, p)


OPTAX_TWINS = [
    (
        lambda: jopt.sgd(0.05, momentum=0.9, nesterov=True),
        lambda: optax.sgd(0.05, 0.9, nesterov=True),
    ),
    (
        lambda: jopt.adagrad(0.1, initial_accumulator_value=0.1, eps_in_sqrt=True),
        lambda: optax.adagrad(0.1, eps=1e-10),
    ),
    (lambda: jopt.rmsprop(0.01, 0.9, eps_in_sqrt=True), lambda: optax.rmsprop(0.01, 0.9, eps=1e-8)),
    (
        lambda: jopt.rmsprop(0.01, 0.9, 1e-8, centered=True, eps_in_sqrt=True),
        lambda: optax.rmsprop(0.01, 0.9, eps=1e-8, centered=True),
    ),
    (lambda: jopt.adam(0.05), lambda: optax.adam(0.05)),
    (lambda: jopt.adamw(0.05, weight_decay=0.1), lambda: optax.adamw(0.05, weight_decay=0.1)),
]  # (optax.amsgrad takes the max over the corrected v̂, PyTorch's over the raw v: no twin)


@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.complex128], ids=["c64", "c128"])
@pytest.mark.parametrize(
    "pair", OPTAX_TWINS, ids=["sgd", "adagrad", "rmsprop", "centered", "adam", "adamw"]
)
def test_complex_params_follow_optax(pair, dtype):
    make_jopt, make_optax = pair
    params = _complex_tree(dtype)
    runs = []
    for make, promotion in ((make_jopt, "strict"), (make_optax, "standard")):
        with jax.numpy_dtype_promotion(promotion):
            tx, p = make(), params
            state = tx.init(p)
            for _ in range(8):
                u, state = tx.update(_complex_grad(p), state, p)
                p = optax.apply_updates(p, u)
        runs.append(p)
    rtol = 2e-5 if dtype == jnp.complex64 else 1e-10  # optax: rsqrt, jopt: 1/sqrt
    for k in params:
        assert runs[0][k].dtype == dtype
        np.testing.assert_allclose(
            np.asarray(runs[0][k]), np.asarray(runs[1][k]), rtol=rtol, atol=rtol
        )


TORCH_COMPLEX = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.05, maximize=True)),
]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=["c64", "c128"])
@pytest.mark.parametrize("name, kwargs", TORCH_COMPLEX, ids=[n for n, _ in TORCH_COMPLEX])
def test_complex_params_follow_pytorch(name, kwargs, dtype):
    # Lockstep: the same complex gradient arrays each step, PyTorch views each complex
    # parameter as its real pairs.
    params = {k: np.asarray(v, dtype) for k, v in _complex_tree(jnp.dtype(dtype)).items()}
    ours = {k: jnp.asarray(v) for k, v in params.items()}
    theirs = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    tx = getattr(jt, name)(**kwargs)
    opt = getattr(torch.optim, name)(list(theirs.values()), **kwargs)
    state = tx.init(ours)
    for _ in range(8):
        grads = {k: np.asarray(v) for k, v in _complex_grad(ours).items()}
        updates, state = tx.update({k: jnp.asarray(v) for k, v in grads.items()}, state, ours)
        ours = optax.apply_updates(ours, updates)
        for k, p in theirs.items():
            p.grad = torch.from_numpy(grads[k].copy())
        opt.step()
    rtol = 2e-5 if dtype == np.complex64 else 1e-12
    for k, p in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[k]), p.detach().numpy(), rtol=rtol, atol=rtol)


# ----------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    "make",
    [
        lambda: jopt.rmsprop(0.1),
        lambda: jopt.gd(0.1),
        lambda: jopt.adam(0.1),
        lambda: jt.SGD(0.1, 0.9),
    ],
    ids=["rmsprop", "gd", "adam", "torch.SGD"],
)
def test_integer_params_are_refused_at_init_naming_the_leaf(make):
    params = {"layer": {"w": jnp.ones(2), "steps": jnp.array([1, 2, 3])}}
    with pytest.raises(TypeError, match=r"\['layer'\]\['steps'\] of dtype int(32|64)"):
        make().init(params)


def test_gd_names_a_missing_leaf_with_both_trees():
    tx = jopt.gd(0.1)
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    with pytest.raises(ValueError, match=r"(?s)jopt.gd: .*gradients: .*'w'.*params: .*'b'"):
        tx.update({"w": jnp.ones(2)}, tx.init(params), params)


@pytest.mark.parametrize("value", ["low", [1.0, 2.0], jnp.ones(2), 1 + 2j, None])
def test_plateau_refuses_a_metric_that_is_not_a_real_scalar(value):
    tx = jopt.reduce_lr_on_plateau()
    state = tx.init(jnp.zeros(2))
    with pytest.raises((TypeError, ValueError), match=r"jopt.reduce_lr_on_plateau: .*value"):
        tx.update(jnp.ones(2), state, value=value)
