"""jopt.adafactor, jopt.muon, jopt.lion, jopt.lamb and their primitives against their
papers' formulas written out in NumPy (float64, 12 steps, fed the same gradients)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk

STEPS = 12
RTOL = 1e-12


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def run(tx, params, grads_seq):
    """jopt's trajectory (NumPy float64) when fed ``grads_seq``."""
    p = {k: jnp.asarray(v) for k, v in params.items()}
    state = tx.init(p)
    update = jax.jit(tx.update)
    out = []
    for grads in grads_seq:
        u, state = update({k: jnp.asarray(v) for k, v in grads.items()}, state, p)
        p = optax.apply_updates(p, u)
        out.append({k: np.asarray(v) for k, v in p.items()})
    return out


def assert_trajectories_close(ours, theirs, rtol=RTOL):
    for t, (a, e) in enumerate(zip(ours, theirs, strict=True)):
        for k in e:
            scale = max(np.max(np.abs(e[k])), 1.0)
            err = np.max(np.abs(a[k] - e[k])) / scale
            assert err <= rtol, f"step {t + 1}, leaf {k}: rel err {err:.3g}"


def rms(x):
    return np.sqrt(np.mean(np.square(x)))


# ------------------------------------------------------------------------------ Adafactor

SHAPES = {"w": (3, 4), "t": (2, 3, 5), "b": (4,), "s": ()}


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
    ours = run(jopt.adafactor(0.3), params, grads_seq)
    theirs = adafactor_numpy(params, grads_seq, 0.3, -0.8, 1e-30, 1e-3, 1.0, True, None)
    assert_trajectories_close(ours, theirs)


def test_adafactor_options():
    params, grads_seq = tree(SHAPES, 1), [tree(SHAPES, 20 + i) for i in range(STEPS)]
    lr = jopt.schedules.exponential_lr(0.05, 0.9)
    tx = jopt.adafactor(lr, -0.5, 1e-4, 1e-2, 1.3, relative_step=False, weight_decay=0.1)
    theirs = adafactor_numpy(
        params, grads_seq, lambda k: 0.05 * 0.9**k, -0.5, 1e-4, 1e-2, 1.3, False, 0.1
    )
    assert_trajectories_close(run(tx, params, grads_seq), theirs)


@pytest.mark.parametrize("eps1", [None, 1e-2])
def test_scale_by_adafactor_with_pytorchs_epsilon(eps1):
    params, grads_seq = tree(SHAPES, 2), [tree(SHAPES, 30 + i) for i in range(STEPS)]
    grads_seq[3]["w"][1] = 0.0  # a zero row: the clamps matter there
    tx = optax.chain(
        jopt.scale_by_adafactor(-0.8, eps1, 1e-3, 1.0, eps_clamp=True),
        jopt.scale_by_learning_rate(0.1),
    )
    theirs = adafactor_numpy(params, grads_seq, 0.1, -0.8, eps1, 1e-3, 1.0, False, None, True)
    assert_trajectories_close(run(tx, params, grads_seq), theirs)


def test_adafactor_state_is_factored_by_shape():
    params = {
        "w": jnp.zeros((3, 4)),
        "t": jnp.zeros((2, 3, 5)),
        "h": jnp.zeros((4, 2), jnp.float16),
        "b": jnp.zeros(4),
        "s": jnp.zeros(()),
    }
    nu = jopt.scale_by_adafactor().init(params).nu
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
    for _ in range(9):
        _, state = tx.update(jnp.ones(3), state, params)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(1 / 3)  # min(0.4, 1/sqrt(9))


# ----------------------------------------------------------------------------------- Lion


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
    assert_trajectories_close(
        run(jopt.lion(lr, b1, b2, weight_decay=wd), params, grads_seq), theirs
    )


# ----------------------------------------------------------------------------------- LAMB


def test_lamb_is_the_papers_algorithm():
    shapes = {"w": (3, 4), "b": (4,), "z": (2,), "s": ()}
    params, grads_seq = tree(shapes, 4), [tree(shapes, 50 + i) for i in range(STEPS)]
    params["z"] = np.zeros(2)  # ‖θ‖ = 0: ratio 1
    b1, b2, eps, lr, wd = 0.9, 0.99, 1e-6, 0.02, 0.1
    theta = {k: v.copy() for k, v in params.items()}
    m, v, theirs = dict.fromkeys(params, 0.0), dict.fromkeys(params, 0.0), []
    for t, grads in enumerate(grads_seq, start=1):
        for k, g in grads.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            r = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps) + wd * theta[k]
            w_norm, r_norm = np.linalg.norm(theta[k]), np.linalg.norm(r)
            ratio = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
            theta[k] = theta[k] - lr * ratio * r
        theirs.append({k: x.copy() for k, x in theta.items()})
    tx = jopt.lamb(lr, b1, b2, eps, weight_decay=wd)
    assert_trajectories_close(run(tx, params, grads_seq), theirs)


# ----------------------------------------------------------------------------------- Muon

JORDAN = (3.4445, -4.7750, 2.0315)


def newton_schulz(d, coefficients, steps, eps, clamp=False):
    a, b, c = coefficients
    x = d.T if d.shape[0] > d.shape[1] else d
    norm = np.linalg.norm(x)
    x = x / (max(norm, eps) if clamp else norm + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if d.shape[0] > d.shape[1] else x


def test_newton_schulz_orthogonalizes():
    # The cubic (1.5, −0.5, 0) converges to U Vᵀ of D = U S Vᵀ: the SVD is the oracle.
    rng = np.random.default_rng(5)
    q1, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    q2, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    d = q1 @ np.diag([2.0, 1.0, 0.6, 0.4]) @ q2[:4]  # 4×6, singular values 2 … 0.4
    u, _, vt = np.linalg.svd(d, full_matrices=False)
    tx = jopt.scale_by_muon(0.0, ns_coefficients=(1.5, -0.5, 0.0), ns_steps=60, adjust_lr="none")
    for g in (d, d.T):  # wide, and tall (transposed inside)
        out = tx.update(jnp.asarray(g), tx.init(jnp.asarray(g)))[0]
        want = u @ vt if g is d else (u @ vt).T
        np.testing.assert_allclose(np.asarray(out), want, atol=1e-10)


def muon_numpy(params, grads_seq, lr, mu, wd, adam_lr, b1=0.9, b2=0.999, eps_a=1e-8):
    """Jordan's Muon (EMA buffer, Nesterov, s = sqrt(max(1, m/n))) on the matrices, AdamW
    on the other leaves, decoupled decay θ(1 − αλ) on all."""
    theta = {k: v.copy() for k, v in params.items()}
    buf, m, v, out = {}, {}, {}, []
    for t, grads in enumerate(grads_seq, start=1):
        for k, g in grads.items():
            if g.ndim == 2:
                buf[k] = mu * buf.get(k, 0.0) + (1 - mu) * g
                direction = (1 - mu) * g + mu * buf[k]
                rows, cols = g.shape
                step = newton_schulz(direction, JORDAN, 5, 1e-7) * np.sqrt(max(1, rows / cols))
                theta[k] = theta[k] - lr * (step + wd * theta[k])
            else:
                m[k] = b1 * m.get(k, 0.0) + (1 - b1) * g
                v[k] = b2 * v.get(k, 0.0) + (1 - b2) * g * g
                step = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps_a)
                theta[k] = theta[k] - adam_lr * (step + wd * theta[k])
        out.append({k: x.copy() for k, x in theta.items()})
    return out


def test_muon_is_jordans_algorithm_with_adam_for_the_rest():
    shapes = {"w": (3, 4), "v": (5, 3), "t": (2, 2, 2), "b": (4,), "s": ()}
    params, grads_seq = tree(shapes, 6), [tree(shapes, 60 + i) for i in range(STEPS)]
    tx = jopt.muon(0.02, weight_decay=0.1, adam_learning_rate=0.01)
    theirs = muon_numpy(params, grads_seq, 0.02, 0.95, 0.1, 0.01)
    assert_trajectories_close(run(tx, params, grads_seq), theirs)


def test_scale_by_muon_switches_and_momentum_schedule():
    # Keras' summed buffer, PyTorch's clamped ε, Moonshot's shape factor, μ_t scheduled.
    shapes = {"w": (3, 4), "v": (5, 3)}
    params, grads_seq = tree(shapes, 7), [tree(shapes, 70 + i) for i in range(STEPS)]
    schedule = lambda count: 0.9 - 0.4 * 0.5 ** count.astype(jnp.float64)  # noqa: E731
    tx = optax.chain(
        jopt.scale_by_muon(
            schedule,
            ns_coefficients=(2.0, -1.5, 0.5),
            ns_steps=4,
            eps=1e-3,
            ema=False,
            eps_clamp=True,
            adjust_lr="match_rms_adamw",
            rms_rate=0.3,
        ),
        jopt.scale_by_learning_rate(0.02),
    )
    assert int(tx.init({k: jnp.asarray(x) for k, x in params.items()})[0].count) == 0
    theta, buf, theirs = {k: v.copy() for k, v in params.items()}, {}, []
    for t, grads in enumerate(grads_seq):
        mu = 0.9 - 0.4 * 0.5**t
        for k, g in grads.items():
            buf[k] = mu * buf.get(k, 0.0) + g
            o = newton_schulz(g + mu * buf[k], (2.0, -1.5, 0.5), 4, 1e-3, clamp=True)
            theta[k] = theta[k] - 0.02 * 0.3 * np.sqrt(max(g.shape)) * o
        theirs.append({k: x.copy() for k, x in theta.items()})
    assert_trajectories_close(run(tx, params, grads_seq), theirs)


def test_muon_converges_on_matrices():
    # The registry's convergence problem has vectors only; here Muon's own step does it.
    target = jnp.asarray(np.random.default_rng(8).normal(size=(4, 6)))
    loss = lambda p: 0.5 * jnp.sum((p["w"] - target) ** 2)  # noqa: E731
    tx = jopt.muon(jopt.schedules.cosine_annealing_lr(0.3, 200))
    params = {"w": jnp.zeros((4, 6))}
    state = tx.init(params)
    step = jax.jit(lambda p, s: tx.update(jax.grad(loss)(p), s, p))
    for _ in range(200):
        u, state = step(params, state)
        params = optax.apply_updates(params, u)
    assert float(jnp.max(jnp.abs(params["w"] - target))) < 0.05


def test_scale_by_muon_takes_matrices_only():
    tx = jopt.scale_by_muon()
    with pytest.raises(ValueError, match=r"jopt.scale_by_muon: .*size: \(3,\) at \['b'\]"):
        tx.init({"w": jnp.zeros((2, 2)), "b": jnp.zeros(3)})
    with pytest.raises(TypeError, match="complex"):
        tx.init({"w": jnp.zeros((2, 2), jnp.complex64)})


def test_keras_muon_routes_leaves_by_path_as_keras():
    # Keras' own rule (_should_use_adamw, on variables with these paths) is the oracle.
    import keras

    params = {
        "dense": {"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)},
        "out_dense": {"kernel": jnp.zeros((4, 2))},
        "Token_Embedding": {"embeddings": jnp.zeros((5, 3))},
    }
    variables = {}
    for layer, leaves in params.items():
        with keras.name_scope(layer):
            for name, leaf in leaves.items():
                variables[(layer, name)] = keras.Variable(np.zeros(leaf.shape), name=name)
    for exclude_layers, exclude_embeddings in [(None, True), (["out_"], False)]:
        reference = keras.optimizers.Muon(
            exclude_layers=exclude_layers, exclude_embeddings=exclude_embeddings
        )
        tx = jk.Muon(exclude_layers=exclude_layers, exclude_embeddings=exclude_embeddings)
        adam_state = tx.init(params)[1].inner_state[0]  # the masked AdamW branch
        for (layer, name), variable in variables.items():
            takes_adam = not isinstance(adam_state.mu[layer][name], optax.MaskedNode)
            assert takes_adam == reference._should_use_adamw(variable), (layer, name)
