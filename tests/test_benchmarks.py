"""The benchmark runs (tiny sizes, once) and every moment honours mu_dtype / nu_dtype.

No timings are asserted: the benchmark is not a test, this only keeps it working.
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
from flax import nnx

import jopt

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_update_step_benchmark_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text(
        "# Benchmarks\n\n<!-- begin low_precision -->\nkept\n<!-- end low_precision -->\n"
    )
    bench = load("update_step")
    # optax.adam itself is not clean under the suite's strict promotion (REFERENCE §5).
    with jax.numpy_dtype_promotion("standard"):
        body = bench.main(
            [
                "--scale",
                "0.0002",
                "--repeats",
                "1",
                "--cases",
                "2x25M,transformer",
                "--optimizers",
                "adam,sgd-momentum,adam-bf16",
                "--out",
                str(out),
            ]
        )
    text = out.read_text()
    assert "kept" in text  # other sections survive
    assert "| case | optimizer | contender | step ms | compile s |" in text
    for who in ("| jopt |", "| optax |", "| jopt, not donated |", "| torch fused |"):
        assert who in body
    assert "| transformer | adam-bf16 | jopt |" in body
    assert "step jopt/optax" in body


def test_donation_benchmark_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    body = load("donation").main(["--scale", "0.0001", "--repeats", "1", "--out", str(out)])
    for label in ("jax.jit, donated", "jax.jit, not donated", "nnx.jit, donated"):
        assert f"| {label} |" in body
    assert "<!-- begin donation -->" in out.read_text()


def test_donated_nnx_step_reuses_the_buffers():
    # What the benchmark times: nnx.jit with donate_argnums really updates in place.
    module = load("donation")
    model = module.TwoLeaves(16)
    optimizer = nnx.Optimizer(model, jopt.adam(1e-3), wrt=nnx.Param)
    old = [model.w0[...], optimizer.opt_state[0].mu["w0"][...]]
    grads = {"w0": jnp.full((16,), 0.01, jnp.float32), "w1": jnp.full((16,), -0.01, jnp.float32)}
    nnx.jit(module.nnx_step, donate_argnums=(0, 1))(model, optimizer, grads)
    assert all(x.is_deleted() for x in old)  # the donated buffers were handed to XLA
    # Adam's first step is −α·sign(g), on the gradients given (not on the params)
    np.testing.assert_allclose(np.asarray(model.w0[...]), 0.5 - 1e-3, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model.w1[...]), 0.5 + 1e-3, rtol=1e-6)


def test_sharded_state_benchmark_runs_and_meets_its_targets(tmp_path):
    # 8 virtual devices (conftest.py); byte counts, collectives and compiles, no timings
    out = tmp_path / "benchmarks.md"
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes dtypes
        args = ["--scale", "0.002", "--layers", "1", "--steps", "2", "--out", str(out)]
        body = load("sharded_state").main(args)
    for row in ("| replicated | jopt |", "| sharded params | optax |", "| ZeRO-1 | jopt |"):
        assert row in body
    assert "Targets met: yes" in body
    assert "<!-- begin sharded_state -->" in out.read_text()


def test_gpu_script_runs_the_benchmark_on_the_gpu():
    script = (BENCH / "gpu.sh").read_text()
    assert "update_step.py" in script and "--device gpu" in script


# Every optimizer with moments, built with bfloat16 state.
LOW = {
    "adam": lambda **kw: jopt.adam(1e-2, **kw),
    "adam-amsgrad": lambda **kw: jopt.adam(1e-2, amsgrad=True, **kw),
    "adamw": lambda **kw: jopt.adamw(1e-2, **kw),
    "scale_by_adam": lambda **kw: optax.chain(
        jopt.scale_by_adam(**kw), jopt.scale_by_learning_rate(1e-2)
    ),
    "scale_by_amsgrad": lambda **kw: optax.chain(
        jopt.scale_by_amsgrad(**kw), jopt.scale_by_learning_rate(1e-2)
    ),
    "rmsprop": lambda **kw: jopt.rmsprop(1e-2, **kw),
    "rmsprop-centered-momentum": lambda **kw: jopt.rmsprop(1e-2, centered=True, momentum=0.9, **kw),
    "adagrad": lambda nu_dtype=None, **_: jopt.adagrad(1e-1, nu_dtype=nu_dtype),
    "sgd-momentum": lambda mu_dtype=None, **_: jopt.sgd(1e-2, momentum=0.9, mu_dtype=mu_dtype),
    "sgd-nesterov": lambda mu_dtype=None, **_: jopt.sgd(
        1e-2, momentum=0.9, nesterov=True, mu_dtype=mu_dtype
    ),
    "sgd-dampened": lambda mu_dtype=None, **_: jopt.sgd(
        1e-2, momentum=0.9, dampening=0.1, mu_dtype=mu_dtype
    ),
    "momentum": lambda mu_dtype=None, **_: jopt.momentum(1e-2, 0.9, mu_dtype=mu_dtype),
    "nesterov": lambda mu_dtype=None, **_: jopt.nesterov(1e-2, 0.9, mu_dtype=mu_dtype),
}


def _run(tx, params, steps=8):
    state = tx.init(params)
    for t in range(steps):
        grads = jax.tree.map(
            lambda p, t=t: (jnp.cos(p * (t + 1)) + 0.1 * p).astype(p.dtype), params
        )
        updates, state = tx.update(grads, state, params)
        assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("name", list(LOW))
def test_low_precision_state_is_stored_bf16_and_stays_close(name):
    params = {
        "w": jnp.linspace(-1.0, 1.0, 12, dtype=jnp.float32).reshape(3, 4),
        "b": jnp.linspace(0.5, 1.5, 4, dtype=jnp.float32),
    }
    make = LOW[name]
    low_p, low_s = _run(make(mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16), params)
    ref_p, ref_s = _run(make(), params)
    # every per-parameter array in the state is bfloat16; the fp32 run keeps float32
    moments = [x for x in jax.tree.leaves(low_s) if jnp.ndim(x) > 0]
    assert moments and all(x.dtype == jnp.bfloat16 for x in moments)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(ref_s) if jnp.ndim(x) > 0)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(low_p))
    # same trajectory within bfloat16's resolution (8 bits of mantissa: ~0.4 % per value)
    for lo, ref, p0 in zip(
        jax.tree.leaves(low_p), jax.tree.leaves(ref_p), jax.tree.leaves(params), strict=True
    ):
        moved = np.asarray(ref - p0)
        np.testing.assert_allclose(
            np.asarray(lo - p0), moved, rtol=5e-2, atol=5e-2 * np.abs(moved).max()
        )


def test_low_precision_state_survives_jit_with_donation():
    tx = jopt.adam(1e-3, mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16)
    params = {"w": jnp.ones((8,), jnp.float32)}
    state = tx.init(params)

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    step = jax.jit(step, donate_argnums=(0, 1))
    params, state = step(params, state, {"w": jnp.full((8,), 0.5, jnp.float32)})
    assert state[0].mu["w"].dtype == jnp.bfloat16 and params["w"].dtype == jnp.float32


def test_low_precision_accuracy_script_runs(tmp_path):
    body = load("low_precision").main(["--seeds", "1", "--epochs", "1", "--out", ""])
    assert "| bfloat16 m, v |" in body and "| float32 m, v |" in body
