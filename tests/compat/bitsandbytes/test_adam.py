"""jopt.compat.bitsandbytes.Adam8bit and AdamW8bit (jopt/compat/bitsandbytes/_adam.py and
jopt/_algorithms/adam/adam8bit_bnb.py) in lockstep with the installed bitsandbytes on CPU:
the same gradients each step into both; the 8-bit codes, the block absmax and the 32-bit
moments identical, the parameters identical but for PyTorch's float32 sqrt (MKL's, within
0.7 ulp), and identical to the bit once PyTorch's sqrt is correctly rounded; a state of
bitsandbytes' taken over mid-run; bitsandbytes' refusals."""

from __future__ import annotations

import math
from fractions import Fraction

import bitsandbytes as bnb
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt.compat.bitsandbytes as jb
from jopt._algorithms.adam.adam8bit_bnb import Adam8bitState, fma, step_scalars
from jopt.testing import check_transformation

# 8-bit: whole blocks, and a partial last block (4100 = 16·256 + 4); 32-bit: below 4096.
SHAPES = {"w": (64, 64), "odd": (4100,), "b": (5, 3)}
STEPS = 6
CASES = {
    "Adam8bit": dict(lr=1e-2),
    "AdamW8bit": dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
}


def _gradients(seed: int) -> list[dict[str, np.ndarray]]:
    # each step's gradients on their own scale, so the absmax and codes move
    rng = np.random.default_rng(seed)
    return [
        {
            k: (rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2)).astype(np.float32)
            for k, s in SHAPES.items()
        }
        for _ in range(STEPS)
    ]


def _params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}


def _torch_run(name, kwargs, grads, params):
    """bitsandbytes' parameters and state after each step."""
    tp = {k: torch.nn.Parameter(torch.tensor(v)) for k, v in params.items()}
    opt = getattr(bnb.optim, name)(list(tp.values()), **kwargs)
    out = []
    for g in grads:
        for k, p in tp.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        states = {
            k: {n: t.clone() for n, t in opt.state[p].items() if torch.is_tensor(t)}
            for k, p in tp.items()
        }
        out.append(({k: p.detach().numpy().copy() for k, p in tp.items()}, states))
    return out


def _jopt_run(tx, grads, params, state=None):
    params = {k: jnp.asarray(v) for k, v in params.items()}
    state = tx.init(params) if state is None else state
    update = jax.jit(tx.update)
    out = []
    for g in grads:
        updates, state = update({k: jnp.asarray(v) for k, v in g.items()}, state, params)
        params = optax.apply_updates(params, updates)
        out.append((jax.tree.map(np.asarray, params), jax.tree.map(np.asarray, state)))
    return out


def _check_state(state, theirs, step):
    assert int(state.count) == step
    for k in SHAPES:
        s = theirs[k]
        for mine, key in ((state.state1, "state1"), (state.state2, "state2")):
            np.testing.assert_array_equal(mine[k], s[key].numpy(), err_msg=f"{key}, {k}, {step}")
            assert mine[k].dtype == s[key].numpy().dtype
        if "absmax1" in s:
            for i in (1, 2):
                mine, key = getattr(state, f"absmax{i}")[k], f"absmax{i}"
                np.testing.assert_array_equal(mine, s[key].numpy(), err_msg=f"{key}, {k}, {step}")
        else:
            assert state.absmax1[k].shape == state.absmax2[k].shape == (0,)


def _landable(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Where some float32 update u lands ``before`` on ``after`` under optax.apply_updates
    (before + u in float32): where after − before is a float32. A step much larger than
    |θ| (θ changing sign, say) may have none; then the nearest value is taken."""
    exact = after.astype(np.float64) - before.astype(np.float64)
    return exact.astype(np.float32).astype(np.float64) == exact


@pytest.mark.parametrize("name", sorted(CASES))
def test_lockstep_with_bitsandbytes(name):
    """Two trajectories from the same params on the same gradients: the codes, absmax and
    32-bit moments identical at every step, θ within a few ulps (MKL's sqrt in PyTorch)."""
    kwargs = CASES[name]
    grads, params = _gradients(1), _params()
    theirs = _torch_run(name, kwargs, grads, params)
    mine = _jopt_run(getattr(jb, name)(**kwargs), grads, params)
    worst = 0.0
    for step, ((p_mine, s_mine), (p_theirs, s_theirs)) in enumerate(
        zip(mine, theirs, strict=True), 1
    ):
        _check_state(s_mine, s_theirs, step)
        for k in SHAPES:
            # an ulp of θ, or of the step where θ is smaller than α (near zero)
            ulp = np.spacing(np.maximum(np.abs(p_theirs[k]), kwargs["lr"]))
            worst = max(worst, float(np.max(np.abs(p_mine[k] - p_theirs[k]) / ulp)))
    assert worst <= 4, worst


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_step_lands_on_bitsandbytes_theta_with_a_correctly_rounded_sqrt(name, monkeypatch):
    """With PyTorch's sqrt correctly rounded (float64, then float32: 53 >= 2·24 + 2), each
    step from bitsandbytes' θ lands on bitsandbytes' next θ to the bit, wherever a float32
    update can land it (elsewhere on the nearest value that lands)."""
    monkeypatch.setattr(torch.Tensor, "sqrt", lambda x: torch.sqrt(x.double()).to(x.dtype))
    kwargs = CASES[name]
    grads, params = _gradients(3), _params()
    theirs = _torch_run(name, kwargs, grads, params)
    tx = getattr(jb, name)(**kwargs)
    update = jax.jit(tx.update)
    before = {k: jnp.asarray(v) for k, v in params.items()}
    state = tx.init(before)
    landed = 0
    for step, (g, (p_theirs, s_theirs)) in enumerate(zip(grads, theirs, strict=True), 1):
        updates, state = update({k: jnp.asarray(v) for k, v in g.items()}, state, before)
        after = jax.tree.map(np.asarray, optax.apply_updates(before, updates))
        _check_state(jax.tree.map(np.asarray, state), s_theirs, step)
        for k in SHAPES:
            ok = _landable(np.asarray(before[k]), p_theirs[k])
            np.testing.assert_array_equal(
                after[k][ok], p_theirs[k][ok], err_msg=f"{k}, step {step}"
            )
            # elsewhere the nearest that lands: within an ulp of the step |Δθ| > |θ|
            step_size = np.abs(p_theirs[k] - np.asarray(before[k]))[~ok]
            off = np.abs(after[k][~ok] - p_theirs[k][~ok])
            assert np.all(off <= np.spacing(step_size)), f"{k}, step {step}"
            landed += int(ok.sum())
        before = {k: jnp.asarray(v) for k, v in p_theirs.items()}  # bitsandbytes' θ
    assert landed > 0.99 * STEPS * sum(int(np.prod(s)) for s in SHAPES.values())


def test_a_bitsandbytes_state_is_taken_over_mid_run():
    grads, params = _gradients(2), _params()
    theirs = _torch_run("AdamW8bit", {}, grads, params)
    p_half, s_half = theirs[2]
    state = Adam8bitState(
        count=jnp.asarray(3, jnp.int32),
        state1={k: jnp.asarray(s["state1"].numpy()) for k, s in s_half.items()},
        state2={k: jnp.asarray(s["state2"].numpy()) for k, s in s_half.items()},
        absmax1={
            k: jnp.asarray(s["absmax1"].numpy() if "absmax1" in s else np.zeros(0, np.float32))
            for k, s in s_half.items()
        },
        absmax2={
            k: jnp.asarray(s["absmax2"].numpy() if "absmax2" in s else np.zeros(0, np.float32))
            for k, s in s_half.items()
        },
    )
    mine = _jopt_run(jb.AdamW8bit(), grads[3:], p_half, state)
    for step, ((_, s_mine), (_, s_theirs)) in enumerate(zip(mine, theirs[3:], strict=True), 4):
        _check_state(s_mine, s_theirs, step)


@pytest.mark.parametrize("lr, b1, b2, eps", [(1e-3, 0.9, 0.999, 1e-8), (3e-4, 0.95, 0.9999, 1e-6)])
def test_the_step_scalars_round_as_bitsandbytes_float64_ones(lr, b1, b2, eps):
    # sqrt(1 − β2^t), −α/(1 − β1^t), ε·sqrt(1 − β2^t), −α·sqrt(1 − β2^t)/(1 − β1^t) formed
    # by Python in float64, as bitsandbytes forms them, each rounded to float32
    t = np.concatenate([np.arange(1, 1001), [4095, 65537, 10**6, 2**31 - 1]]).astype(np.int32)
    scalars = jax.vmap(lambda c: step_scalars(lr, b1, b2, eps, c, c.astype(jnp.uint32) >> 31))
    got = jax.jit(scalars)(jnp.asarray(t))
    c1 = np.array([1.0 - b1 ** int(k) for k in t])
    c2 = np.array([math.sqrt(1.0 - b2 ** int(k)) for k in t])
    want = (c2, -lr / c1, eps * c2, -lr * c2 / c1)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), w.astype(np.float32))


def test_fma_rounds_once():
    # a·b + c against the exact value rounded to float32, on products that c cancels
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(2000) * 10.0 ** rng.integers(-4, 4, 2000)).astype(np.float32)
    b = (rng.standard_normal(2000) * 10.0 ** rng.integers(-4, 4, 2000)).astype(np.float32)
    c = -(a * b) * (1 + rng.integers(-3, 4, 2000) * 2.0**-23).astype(np.float32)
    c[::2] = (rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 3, 1000)).astype(np.float32)
    got = np.asarray(jax.jit(fma)(a, b, c, jnp.uint32(0)))
    for x, y, z, r in zip(a, b, c, got, strict=True):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        near = np.float32(float(exact))  # float64 first: then its two float32 neighbours
        options = [
            np.nextafter(near, np.float32(-np.inf)),
            near,
            np.nextafter(near, np.float32(np.inf)),
        ]
        errors = [abs(Fraction(float(o)) - exact) for o in options]
        best = [o for o, e in zip(options, errors, strict=True) if e == min(errors)]
        best = [o for o in best if len(best) == 1 or int(o.view(np.uint32)) % 2 == 0]
        assert r == best[0], (x, y, z, r, best[0])


BAD = [
    ("Adam8bit", dict(lr=-1.0), "Invalid learning rate"),
    ("Adam8bit", dict(eps=-1.0), "Invalid epsilon value"),
    ("Adam8bit", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    ("AdamW8bit", dict(betas=(0.9, -0.5)), "Invalid beta parameter at index 1"),
    ("AdamW8bit", dict(weight_decay=-0.1), "Invalid weight_decay value"),
    ("Adam8bit", dict(amsgrad=True), "amsgrad=True"),
    ("AdamW8bit", dict(optim_bits=8), "optim_bits=8"),
]


@pytest.mark.parametrize(
    "name, kwargs, words", BAD, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)]
)
def test_bad_arguments_raise_as_in_bitsandbytes(name, kwargs, words):
    with pytest.raises(ValueError):  # bitsandbytes' own check
        getattr(bnb.optim, name)([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match=f"jopt.compat.bitsandbytes.{name}: {words}"):
        getattr(jb, name)(**kwargs)


def test_what_these_presets_do_not_take():
    with pytest.raises(ValueError, match="args=.* is invalid; args must be None"):
        jb.Adam8bit(args=object())
    with pytest.raises(TypeError, match="lr is traced"):
        jax.jit(lambda lr: jb.Adam8bit(lr=lr).init(jnp.zeros(2)))(0.1)
    with pytest.raises(TypeError, match="lr=.* must be a real number"):
        jb.Adam8bit(lr=lambda count: 0.1)
    tx = jb.AdamW8bit()
    with pytest.raises(TypeError, match="complex parameter"):
        tx.init(jnp.zeros(2, jnp.complex64))
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
    jb.Adam8bit(is_paged=True, min_8bit_size=16)  # accepted: neither changes the numbers


def test_min_8bit_size_picks_the_8bit_leaves():
    state = jb.Adam8bit(min_8bit_size=16).init({"a": jnp.zeros(16), "b": jnp.zeros(15)})
    assert state.state1["a"].dtype == jnp.uint8 and state.absmax1["a"].shape == (1,)
    assert state.state1["b"].dtype == jnp.float32 and state.absmax1["b"].shape == (0,)


@pytest.mark.parametrize("on_mesh", [False, True])
def test_the_contract_of_every_jopt_optimizer(on_mesh):
    # jit with donation, state structure and placement; on a mesh of 8 (conftest.py), each
    # 8-bit state's blocks encoded whole, the codes sharded as their parameter
    params = {"w": jnp.asarray(_params()["w"]), "b": jnp.zeros(3, jnp.float32)}
    grads = jax.tree.map(lambda p: jnp.full_like(p, 0.1), params)
    mesh = jax.make_mesh((8,), ("x",)) if on_mesh else None
    check_transformation(jb.AdamW8bit(lr=1e-2), params, grads, mesh=mesh)
