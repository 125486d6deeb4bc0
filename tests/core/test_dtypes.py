"""The dtype policy (jopt/_core/dtypes.py): the compute dtype, the state dtype of each kind
of leaf (float16, bfloat16, complex) with and without ``mu_dtype``/``nu_dtype``, and complex
parameters end to end against optax and PyTorch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
from jopt._core.dtypes import compute_dtype, state_dtype
from tests.support.tolerances import tol

F16, BF16, F32, F64 = jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64
C64, C128 = jnp.complex64, jnp.complex128


# ------------------------------------------------------------------------ the dtype rules


@pytest.mark.parametrize(
    "leaf, want",
    [(F16, F32), (BF16, F32), (F32, F32), (F64, F64), (C64, C64), (C128, C128)],
)
def test_compute_dtype(leaf, want):
    assert compute_dtype(jnp.zeros(2, leaf)) == want


def test_integer_gradients_are_rejected_with_a_message():
    tx = jopt.gd(0.1)
    with pytest.raises(TypeError, match=r"^jopt\.gd: updates must be floating point or complex"):
        tx.update(jnp.ones(2, jnp.int32), tx.init(jnp.zeros(2)))


# leaf dtype, requested dtype -> (first moment, second moment |g|²)
STATE_DTYPES = [
    (F32, None, F32, F32),
    (F64, None, F64, F64),
    (BF16, None, BF16, BF16),  # bfloat16 does not underflow: kept
    (F16, None, F32, F32),  # float16 underflows at 6e-8: float32
    (F16, F16, F16, F16),  # unless asked
    (F32, BF16, BF16, BF16),
    (C64, None, C64, F32),  # |g|² is real
    (C128, None, C128, F64),
    # a requested dtype sets the precision of a complex leaf's moments
    (C64, BF16, C64, BF16),
    (C64, F64, C128, F64),
    (C128, F32, C64, F32),
    (C128, F16, C64, F16),
]


@pytest.mark.parametrize("leaf, asked, first, second", STATE_DTYPES)
def test_state_dtype(leaf, asked, first, second):
    x = jnp.zeros(2, leaf)
    assert state_dtype(x, asked) == first
    assert state_dtype(x, asked, real=True) == second


def test_float16_moments_are_float32_unless_asked():
    p = {"h": jnp.zeros(3, F16), "b": jnp.zeros(3, BF16)}
    adam = jopt.adam(1e-3).init(p)[0]
    assert adam.mu["h"].dtype == adam.nu["h"].dtype == F32
    assert adam.mu["b"].dtype == BF16  # bfloat16 does not underflow: kept
    chosen = jopt.adam(1e-3, mu_dtype=F16, nu_dtype=BF16).init(p)[0]
    assert chosen.mu["h"].dtype == F16 and chosen.nu["h"].dtype == BF16


def test_low_precision_state_dtypes():
    params = {"w": jnp.zeros((3,), F32)}
    tx = jopt.adam(1e-3, mu_dtype=BF16, nu_dtype=BF16)
    state = tx.init(params)
    assert state[0].mu["w"].dtype == BF16 and state[0].nu["w"].dtype == BF16
    updates, state = tx.update({"w": jnp.ones(3, F32)}, state)
    assert updates["w"].dtype == F32
    assert state[0].mu["w"].dtype == BF16


def test_the_step_uses_each_moment_as_stored():
    # bfloat16 m and v: the step reads the rounded moments it stores (jopt/_core/dtypes.py
    # stored), not the float32 values they were rounded from. Adam in NumPy, rounding m and
    # v to bfloat16 after each update; a step from the unrounded moments is ~1e-3 away.
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-2
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(5, 64)).astype(np.float32)
    tx = jopt.adam(lr, b1=b1, b2=b2, eps=eps, mu_dtype=BF16, nu_dtype=BF16)
    state = tx.init(jnp.zeros(64, F32))
    m = v = np.zeros(64, np.float32)
    bf16 = lambda x: np.asarray(jnp.asarray(x, F32).astype(BF16).astype(F32))  # noqa: E731
    for t, g in enumerate(grads, start=1):
        m = bf16(b1 * m + (1 - b1) * g)
        v = bf16(b2 * v + (1 - b2) * g * g)
        want = -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        updates, state = tx.update(jnp.asarray(g), state)
        np.testing.assert_allclose(np.asarray(updates), want, rtol=1e-4, err_msg=f"step {t}")


@pytest.mark.parametrize(
    "make, fields",
    [
        (lambda **kw: jopt.adam(0.1, **kw), ("mu", "nu")),
        (lambda **kw: jopt.rmsprop(0.1, centered=True, **kw), ("mu", "nu")),
        (lambda **kw: jopt.adagrad(0.1, nu_dtype=kw["nu_dtype"]), ("sum_of_squares",)),
    ],
    ids=["adam", "rmsprop-centered", "adagrad"],
)
def test_mu_and_nu_dtype_set_the_precision_of_complex_moments(make, fields):
    # nu_dtype was ignored for complex parameters (v stored as float32 whatever was
    # asked), and mu_dtype too (m kept the parameter's complex64). Now they set the
    # precision: a real v of nu_dtype, a complex m of mu_dtype's precision. The step keeps
    # them (state dtypes fixed from init on).
    params = {"z": jnp.asarray([1 + 2j, -0.5j, 3.0], C64)}
    grads = {"z": jnp.asarray([0.5 - 1j, 2j, -1.0], C64)}
    for mu_dtype, nu_dtype, want in (
        (F64, BF16, {"mu": C128, "nu": BF16, "sum_of_squares": BF16}),
        (F16, F64, {"mu": C64, "nu": F64, "sum_of_squares": F64}),
    ):
        tx = make(mu_dtype=mu_dtype, nu_dtype=nu_dtype)
        state = tx.init(params)
        inner = state[0]
        got = {f: getattr(inner, f)["z"].dtype for f in fields}
        assert got == {f: want[f] for f in fields}, (mu_dtype, nu_dtype)
        updates, state = tx.update(grads, state, params)
        assert updates["z"].dtype == C64
        assert bool(jnp.all(jnp.isfinite(updates["z"])))
        assert {f: getattr(state[0], f)["z"].dtype for f in fields} == got


# ------------------------------------------------------------------------------ float16


@pytest.mark.parametrize("magnitude", [1e-8, 1e-7, 1e-5, 1e-3, 1.0, 1e3, 6e4])
def test_float16_adam_first_update_is_the_closed_form(magnitude):
    g16 = jnp.asarray([magnitude, -magnitude], F16)
    tx = jopt.adam(1e-3)
    updates, _ = tx.update(g16, tx.init(jnp.zeros(2, F16)))
    g = np.asarray(g16, np.float64)
    want = -1e-3 * g / (np.abs(g) + 1e-8)  # m̂ = g, v̂ = g² at t = 1
    assert updates.dtype == F16
    np.testing.assert_allclose(np.asarray(updates, np.float64), want, rtol=1e-3, atol=1e-7)


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


@pytest.mark.slow
def test_float16_mlp_trains_like_float32():
    # A 64-32-10 MLP, full-batch Adam (lr 1e-3, 60 steps) on a fixed classification
    # problem (a random linear teacher's labels): float16 parameters reach the float32 loss.
    rng = np.random.default_rng(0)
    x_np = rng.uniform(size=(512, 64)).astype(np.float32)
    x32, y = jnp.asarray(x_np), jnp.asarray(np.argmax(x_np @ rng.normal(size=(64, 10)), axis=1))
    w0 = jnp.asarray(rng.normal(size=(64, 32)) / 8.0, F32)
    w1 = jnp.asarray(rng.normal(size=(32, 10)) / np.sqrt(32), F32)

    @jax.jit
    def final_loss(dtype_of):
        dtype = dtype_of.dtype
        x = x32.astype(dtype)
        params = {
            "w0": w0.astype(dtype),
            "b0": jnp.zeros(32, dtype),
            "w1": w1.astype(dtype),
            "b1": jnp.zeros(10, dtype),
        }

        def loss(p):
            h = jax.nn.relu(x @ p["w0"] + p["b0"])
            logits = (h @ p["w1"] + p["b1"]).astype(F32)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        tx = jopt.adam(1e-3)

        def body(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, u), s), None

        (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=60)
        return loss(params)

    loss16, loss32 = (float(final_loss(jnp.zeros((), dt))) for dt in (F16, F32))
    assert np.isfinite(loss16) and loss32 < 0.9 * np.log(10)  # it learns
    np.testing.assert_allclose(loss16, loss32, rtol=0.02)


# ------------------------------------------------------------------------------ complex


def _complex_tree(dtype):
    k = jax.random.split(jax.random.key(1), 4)
    real = F32 if dtype == C64 else F64

    def make(a, b, shape):
        return jax.lax.complex(jax.random.normal(a, shape, real), jax.random.normal(b, shape, real))

    # two leaves of one shape: each eager op compiles once per dtype, not once per leaf
    return {"w": make(k[0], k[1], (3, 2)), "b": make(k[2], k[3], (3, 2))}


def _complex_grad(p):
    # Any fixed smooth map works for comparing two optimizers on the same inputs.
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


# complex128 meets optax to rounding, so it checks every formula (complex64 values are
# checked against PyTorch below, complex64 state dtypes above).
@pytest.mark.parametrize("dtype", [C128], ids=["c128"])
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
    rtol = tol("lockstep", np.float32 if dtype == C64 else np.float64)  # rsqrt vs 1/sqrt
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


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.complex64], ids=["c64"])
@pytest.mark.parametrize("name, kwargs", TORCH_COMPLEX, ids=[n for n, _ in TORCH_COMPLEX])
def test_complex_params_follow_pytorch(name, kwargs, dtype):
    # Lockstep: the same complex gradient arrays each step, PyTorch views each complex
    # parameter as its real pairs. complex64: the single-precision path, whose values are
    # checked nowhere else (the presets' formulas are checked to float64 rounding in their
    # real-valued lockstep tests, the complex formulas against optax above).
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
    rtol = tol("lockstep", np.float32 if dtype == np.complex64 else np.float64)
    for k, p in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[k]), p.detach().numpy(), rtol=rtol, atol=rtol)
