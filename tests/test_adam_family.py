"""Adadelta, Adamax, NAdam and RAdam: the native optimizers against their formulas written
out in NumPy (float64, real and complex), against optax where the rules coincide, against
Keras' own golden values, and RAdam's rectification switch against PyTorch's Python-float
arithmetic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk

STEPS = 30


def gradients(complex_: bool = False, steps: int = STEPS, seed: int = 0) -> list[np.ndarray]:
    """A fixed sequence of gradients of shape (5,), some entries exactly 0 at times."""
    rng = np.random.default_rng(seed)
    gs = rng.normal(size=(steps, 5))
    if complex_:
        gs = gs + 1j * rng.normal(size=(steps, 5))
    gs[3, 1] = 0.0
    return list(gs)


def run_jopt(tx, grads) -> list[np.ndarray]:
    """The updates of ``tx`` for ``grads`` (float64 or complex128), one per step."""
    params = jnp.zeros_like(jnp.asarray(grads[0]))
    state = tx.init(params)
    update = jax.jit(tx.update)
    out = []
    for g in grads:
        u, state = update(jnp.asarray(g), state, params)
        out.append(np.asarray(u))
    return out


def assert_updates_close(ours, theirs, rtol=1e-12):
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14, err_msg=f"step {t + 1}")


def b1_ramp(count):
    """β1 falling from 0.9 to 0.7 over 10 steps (count: updates already applied)."""
    return 0.9 - 0.2 * np.minimum(count, 10) / 10


def jopt_b1_ramp(count):
    return 0.9 - 0.2 * jnp.minimum(count.astype(jnp.float64), 10.0) / 10.0


# ------------------------------------------------------------------ NumPy references


def np_adadelta(grads, lr, rho, eps):
    e_g = np.zeros(grads[0].shape)
    e_x = np.zeros(grads[0].shape)
    out = []
    for g in grads:
        e_g = rho * e_g + (1 - rho) * np.abs(g) ** 2
        delta = np.sqrt(e_x + eps) / np.sqrt(e_g + eps) * g
        e_x = rho * e_x + (1 - rho) * np.abs(delta) ** 2
        out.append(-lr * delta)
    return out


def np_adamax(grads, lr, b1, b2, eps, eps_in_max=True):
    m = np.zeros_like(grads[0])
    u = np.zeros(grads[0].shape)
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        m = beta1 * m + (1 - beta1) * g
        if eps_in_max:
            u = np.maximum(b2 * u, np.abs(g) + eps)
            denom = u
        else:
            u = np.maximum(b2 * u, np.abs(g))
            denom = u + eps
        out.append(-lr / (1 - beta1**t) * m / denom)
    return out


def np_nadam(grads, lr, b1, b2, eps, psi):
    m = np.zeros_like(grads[0])
    v = np.zeros(grads[0].shape)
    product = 1.0
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        product *= mu
        m = beta1 * m + (1 - beta1) * g
        v = b2 * v + (1 - b2) * np.abs(g) ** 2
        denom = np.sqrt(v / (1 - b2**t)) + eps
        step = (1 - mu) / (1 - product) * g + mu_next / (1 - product * mu_next) * m
        out.append(-lr * step / denom)
    return out


def np_radam(grads, lr, b1, b2, eps, threshold=5.0):
    m = np.zeros_like(grads[0])
    v = np.zeros(grads[0].shape)
    rho_inf = 2 / (1 - b2) - 1
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        m = beta1 * m + (1 - beta1) * g
        v = b2 * v + (1 - b2) * np.abs(g) ** 2
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > threshold:
            r = np.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            out.append(-lr * r * m_hat * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps))
        else:
            out.append(-lr * m_hat)
    return out


CONSTANT = lambda b: lambda count: b  # noqa: E731

# (name, jopt optimizer, NumPy reference): every option, with complex gradients too
FORMULAS = [
    ("adadelta-defaults", jopt.adadelta(), lambda gs: np_adadelta(gs, 1.0, 0.95, 1e-6)),
    (
        "adadelta-rho-eps-lr",
        jopt.adadelta(0.5, rho=0.8, eps=1e-3),
        lambda gs: np_adadelta(gs, 0.5, 0.8, 1e-3),
    ),
    ("adamax-defaults", jopt.adamax(), lambda gs: np_adamax(gs, 2e-3, CONSTANT(0.9), 0.999, 1e-8)),
    (
        "adamax-keras-eps-b1-schedule",
        jopt.adamax(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-2, eps_in_max=False),
        lambda gs: np_adamax(gs, 0.1, b1_ramp, 0.9, 1e-2, eps_in_max=False),
    ),
    (
        "adamax-eps-in-max-b1-schedule",
        jopt.adamax(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-2),
        lambda gs: np_adamax(gs, 0.1, b1_ramp, 0.9, 1e-2),
    ),
    (
        "nadam-defaults",
        jopt.nadam(),
        lambda gs: np_nadam(gs, 2e-3, CONSTANT(0.9), 0.999, 1e-8, 4e-3),
    ),
    (
        "nadam-momentum_decay-b1-schedule",
        jopt.nadam(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-3, momentum_decay=0.3),
        lambda gs: np_nadam(gs, 0.1, b1_ramp, 0.9, 1e-3, 0.3),
    ),
    (
        "radam-defaults",
        jopt.radam(),
        lambda gs: np_radam(gs, 1e-3, CONSTANT(0.9), 0.999, 1e-8),
    ),
    (
        "radam-b2-eps-threshold-b1-schedule",
        jopt.radam(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-3, threshold=8.0),
        lambda gs: np_radam(gs, 0.1, b1_ramp, 0.9, 1e-3, threshold=8.0),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_native_optimizer_is_its_formula(name, tx, reference, complex_):
    grads = gradients(complex_)
    assert_updates_close(run_jopt(tx, grads), reference(grads))


def test_primitives_are_the_optimizers_without_the_rate():
    grads = gradients()
    pairs = [
        (jopt.scale_by_adadelta(rho=0.8, eps=1e-3), np_adadelta(grads, -1.0, 0.8, 1e-3)),
        (
            jopt.scale_by_adamax(b2=0.9, eps=1e-2, eps_in_max=False),
            np_adamax(grads, -1.0, CONSTANT(0.9), 0.9, 1e-2, eps_in_max=False),
        ),
        (
            jopt.scale_by_nadam(b2=0.9, momentum_decay=1.0),
            np_nadam(grads, -1.0, CONSTANT(0.9), 0.9, 1e-8, 1.0),
        ),
        (jopt.scale_by_radam(b2=0.9), np_radam(grads, -1.0, CONSTANT(0.9), 0.9, 1e-8)),
    ]
    for tx, expected in pairs:
        assert_updates_close(run_jopt(tx, grads), expected)


# --------------------------------------------------------------- optax, where equal


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (jopt.adamax(0.1, b2=0.9, eps=1e-3), lambda: optax.adamax(0.1, b2=0.9, eps=1e-3)),
        (jopt.adadelta(0.5, rho=0.9), lambda: optax.adadelta(0.5, rho=0.9, eps=1e-6)),
        # optax adds ε to sqrt(v̂), PyTorch (and jopt) to sqrt(v): equal at ε = 0
        (jopt.radam(0.1, b2=0.9, eps=0.0), lambda: optax.radam(0.1, b2=0.9, eps=0.0)),
    ],
    ids=["adamax", "adadelta", "radam-eps0"],
)
def test_equal_to_optax_where_the_rules_coincide(ours, theirs):
    grads = gradients()
    with jax.numpy_dtype_promotion("standard"):  # optax mixes dtypes
        expected = run_jopt(theirs(), grads)
    assert_updates_close(run_jopt(ours, grads), expected)


# ------------------------------------------------------------ Keras' golden values

GRADS = np.arange(0.1, 1.1, 0.1, dtype=np.float32)[:10]


def keras_golden(tx, golden):
    """Keras' test_correctness_with_golden: one step at g = 0.01, then steps at GRADS."""
    x = jnp.ones(10, jnp.float32)
    state = tx.init(x)
    first = jnp.full(10, 0.01, jnp.float32)
    for i, g in enumerate([first] + [jnp.asarray(GRADS)] * (len(golden) - 1)):
        u, state = tx.update(g, state, x)
        x = optax.apply_updates(x, u)
        np.testing.assert_allclose(np.asarray(x), golden[i], rtol=5e-4, atol=5e-4)


def test_keras_golden_adadelta():
    golden = np.tile([[0.9978], [0.9947], [0.9915], [0.9882], [0.9849]], (1, 10))
    keras_golden(jk.Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6), golden)


def test_keras_golden_adamax():
    # fmt: off
    golden = np.array(
        [[0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
         [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
         [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
         [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
         [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]]
    )
    # fmt: on
    keras_golden(jk.Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6), golden)


def test_keras_golden_nadam():
    # fmt: off
    golden = np.array(
        [[0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281],
         [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
         [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
         [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
         [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]]
    )
    # fmt: on
    tx = jk.Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5)
    keras_golden(tx, golden)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: jk.Adadelta(learning_rate=0.5), [0.9993, 1.9993, 2.9993, 3.9993]),
        (lambda: jk.Adamax(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
        (lambda: jk.Nadam(learning_rate=0.5), [0.4686, 1.4686, 2.4686, 3.4686]),
    ],
    ids=["adadelta", "adamax", "nadam"],
)
def test_keras_single_step(make, expected):
    tx, x = make(), jnp.asarray([1.0, 2.0, 3.0, 4.0], jnp.float32)
    u, _ = tx.update(jnp.asarray([1.0, 6.0, 7.0, 2.0], jnp.float32), tx.init(x), x)
    np.testing.assert_allclose(np.asarray(optax.apply_updates(x, u)), expected, atol=1e-4)


# ---------------------------------------------------------- RAdam's rectification


@pytest.mark.parametrize("b2", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999])
def test_radam_switches_at_the_step_pytorch_does(b2):
    # torch.optim.radam, single-tensor path: Python floats, rho_t > 5.0
    def torch_rect(step):
        bias_correction2 = 1 - b2**step
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2**step) / bias_correction2
        if rho_t > 5.0:
            return (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        return None

    from jopt._algorithms.adam.adam import rectification

    for step in range(1, 200):
        on, r = rectification(b2, 5.0, jnp.asarray(step, jnp.int32))
        expected = torch_rect(float(step))
        assert bool(on) == (expected is not None), (b2, step)
        if expected is not None:
            assert float(r) == pytest.approx(expected, rel=1e-14), (b2, step)


def test_radam_first_steps_are_momentum_sgd_then_rectified():
    # β2 = 0.999: ρ_5 ≈ 4.99 (plain m̂), ρ_6 ≈ 5.99 (rectified)
    tx = jopt.radam(1.0)
    state = tx.init(jnp.zeros(1))
    steps = []
    for _ in range(6):
        u, state = tx.update(jnp.ones(1), state)
        steps.append(float(u[0]))
    assert steps[:5] == pytest.approx([-1.0] * 5, rel=1e-12)  # m̂_t = 1 for constant g = 1
    assert 0.0 < -steps[5] < 0.1  # r_6 is small: the first rectified step is cautious


# ------------------------------------------------------------------ other checks


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda r: jopt.adadelta(1.0, rho=r), [0.5, 0.9, 0.95]),
        (lambda b: jopt.adamax(0.05, b2=b), [0.9, 0.99, 0.999]),
        (lambda d: jopt.nadam(0.05, momentum_decay=d), [0.0, 4e-3, 1.0]),
        (lambda b: jopt.nadam(0.05, b1=b), [0.0, 0.5, 0.9]),
        (lambda b: jopt.radam(0.05, b2=b), [0.5, 0.99, 0.999]),
        (lambda th: jopt.radam(0.05, b2=0.9, threshold=th), [4.0, 5.0, 8.0]),
    ],
    ids=[
        "adadelta-rho",
        "adamax-b2",
        "nadam-momentum_decay",
        "nadam-b1",
        "radam-b2",
        "radam-threshold",
    ],
)
def test_vmap_over_hyperparameters(make, values):
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(make, params, grads, values, steps=8)


def test_nadam_mu_product_is_a_wide_scalar():
    state = jopt.scale_by_nadam().init({"w": jnp.zeros(3, jnp.float32)})
    assert state.mu_product.shape == () and state.mu_product.dtype == jnp.float64  # x64 on
    _, state = jopt.scale_by_nadam().update({"w": jnp.ones(3, jnp.float32)}, state)
    mu_1 = 0.9 * (1 - 0.5 * 0.96**4e-3)
    assert float(state.mu_product) == pytest.approx(mu_1, rel=1e-15)


BAD = [
    (jopt.adadelta, dict(rho=1.5), r"jopt.adadelta: rho=1.5 is invalid; rho must be in \[0, 1\]"),
    (jopt.adadelta, dict(eps=-1.0), r"jopt.adadelta: eps=-1.0"),
    (jopt.adadelta, dict(learning_rate=-1.0), r"jopt.adadelta: learning_rate=-1.0"),
    (jopt.scale_by_adadelta, dict(rho=-0.1), r"jopt.scale_by_adadelta: rho=-0.1"),
    (jopt.adamax, dict(b1=1.0), r"jopt.adamax: b1=1.0 is invalid; b1 must be in \[0, 1\)"),
    (jopt.adamax, dict(b2=-0.5), r"jopt.adamax: b2=-0.5"),
    (jopt.adamax, dict(eps_in_max=1), r"jopt.adamax: eps_in_max=1 is invalid; .* True or False"),
    (jopt.scale_by_adamax, dict(mu_dtype="int32"), r"jopt.scale_by_adamax: mu_dtype='int32'"),
    (jopt.nadam, dict(momentum_decay=-1.0), r"jopt.nadam: momentum_decay=-1.0"),
    (jopt.nadam, dict(b2=1.0), r"jopt.nadam: b2=1.0"),
    (jopt.scale_by_nadam, dict(eps=float("nan")), r"jopt.scale_by_nadam: eps=nan"),
    (jopt.radam, dict(threshold=3.0), r"jopt.radam: threshold=3.0 is invalid; .*\[4, inf\)"),
    (jopt.radam, dict(b1=-0.1), r"jopt.radam: b1=-0.1"),
    (jopt.scale_by_radam, dict(eps="1e-8"), r"jopt.scale_by_radam: eps='1e-8'"),
]


@pytest.mark.parametrize(
    "factory, kwargs, match", BAD, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD)]
)
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
