"""jopt.reduce_lr_on_plateau against torch.optim.lr_scheduler.ReduceLROnPlateau and against
PyTorch's rule written out in NumPy, on recorded metric sequences; its state and checks.

The oracles run with base lr 1: their lr after ``scheduler.step(v)`` must equal the scale
jopt applies to the update given ``value=v`` (with ``base_lr``, their lr is base_lr·scale).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from flax import nnx
from torch.optim import lr_scheduler as tl

from jopt import ReduceLROnPlateauState, reduce_lr_on_plateau
from tests.support.tolerances import tol

STEPS = 300


def torch_scales(metrics, min_scale=0.0, **kwargs) -> np.ndarray:
    return torch_lrs(metrics, 1.0, min_lr=min_scale, **kwargs)


def torch_lrs(metrics, base_lr, **kwargs) -> np.ndarray:
    """torch's lr after each ``scheduler.step(v)``, starting from ``base_lr``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = tl.ReduceLROnPlateau(opt, **kwargs)
    out = []
    for v in metrics:
        opt.step()
        sched.step(float(v))
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out)


def numpy_lrs(
    metrics,
    base_lr=1.0,
    factor=0.1,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_lr=0.0,
    mode="min",
    eps=1e-8,
) -> np.ndarray:
    """PyTorch's ReduceLROnPlateau.step written out: the lr after each metric."""
    best, bad, cooling, lr, out = (np.inf if mode == "min" else -np.inf), 0, 0, base_lr, []
    for v in np.asarray(metrics, np.float64):
        if mode == "min":
            better = v < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        else:
            better = v > (best * (1 + threshold) if threshold_mode == "rel" else best + threshold)
        best, bad = (v, 0) if better else (best, bad + 1)
        if cooling > 0:
            cooling, bad = cooling - 1, 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            lr = new if lr - new > eps else lr
            cooling, bad = cooldown, 0
        out.append(lr)
    return np.asarray(out)


def _metrics() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    k = np.arange(STEPS)
    noise = rng.normal(size=STEPS)
    loss = 2.0 * np.exp(-k / 40) + 0.3 + 0.01 * noise  # improves, then plateaus
    rising = 0.9 * (1 - np.exp(-k / 50)) + 0.005 * noise  # accuracy-like
    steps = np.repeat([5.0, 4.0, 3.9999, 3.5, 3.4, 3.39, 3.0, 2.99], 38)[:STEPS]
    return {
        "loss": loss,
        "negative_loss": loss - 5.0,  # the relative threshold multiplies a negative best
        "crossing_zero": loss - 0.6,
        "rising": rising,
        "negative_rising": rising - 2.0,
        "staircase": steps,
        "negative_staircase": -steps,
    }


METRICS = _metrics()

CONFIGS = {
    "default": dict(),
    "abs_patience5": dict(threshold_mode="abs", threshold=0.01, patience=5),
    "rel_cooldown": dict(threshold=0.05, patience=2, cooldown=3, factor=0.5),
    "max_rel": dict(mode="max", patience=4, factor=0.3),
    "max_abs_cooldown": dict(
        mode="max", threshold_mode="abs", threshold=0.02, cooldown=5, patience=3
    ),
    "min_scale": dict(factor=0.1, patience=1, min_scale=1e-3),
    "eps_stops": dict(factor=0.5, patience=0, threshold=0.5),
    "big_eps": dict(factor=0.5, patience=1, eps=0.1, cooldown=1),
}


def _run_jopt(tx, metrics, dtype=jnp.float64):
    """Scales and updates over the sequences ``metrics`` (steps, or sequences × steps), in
    one jitted scan (vmapped over the sequences) with the metric traced."""
    grads = jnp.asarray([1.0, -2.0], jnp.float32)

    def step(state, v):
        updates, state = tx.update(grads, state, value=v)
        return state, (state.scale, updates)

    def run(m):
        return jax.lax.scan(step, tx.init(grads), m)[1]

    metrics = jnp.asarray(metrics, dtype)
    run = jax.jit(run if metrics.ndim == 1 else jax.vmap(run))
    scales, updates = run(metrics)
    return np.asarray(scales), np.asarray(updates), np.asarray(grads)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_torch_and_the_rule_on_recorded_metrics(config):
    kwargs = CONFIGS[config]
    tx = reduce_lr_on_plateau(**kwargs)
    names = list(METRICS)
    scales, updates, grads = _run_jopt(tx, np.stack([METRICS[n] for n in names]))
    rule = dict(kwargs, min_lr=kwargs.get("min_scale", 0.0))
    rule.pop("min_scale", None)
    reduced = 0
    for i, name in enumerate(names):
        want = torch_scales(METRICS[name], **kwargs)
        # Some sequences never reduce (a negative best with a rel threshold accepts
        # slightly worse values as improvements, PyTorch's rule); jopt must not either.
        reduced += bool(np.any(want < 1.0))
        np.testing.assert_array_equal(scales[i], want, err_msg=f"{config} on {name}")
        np.testing.assert_array_equal(numpy_lrs(METRICS[name], **rule), want)
        np.testing.assert_allclose(
            updates[i], want[:, None] * grads[None, :], rtol=tol("formula", np.float32)
        )
    assert reduced >= 4, "most sequences must trigger reductions, or the case tests little"


def test_float32_metrics():
    # float32 losses (what a model produces) reach the oracle as the same float64 numbers.
    metrics = METRICS["negative_loss"].astype(np.float32)
    kwargs = dict(patience=3, threshold=1e-3)
    scales, _, _ = _run_jopt(reduce_lr_on_plateau(**kwargs), metrics, jnp.float32)
    np.testing.assert_array_equal(scales, torch_scales(metrics, **kwargs))


def test_jit_python_loop_chained_after_sgd():
    kwargs = dict(factor=0.5, patience=2, cooldown=1)
    metrics = METRICS["staircase"]
    want = torch_scales(metrics, **kwargs)
    tx = optax.chain(optax.sgd(0.1), reduce_lr_on_plateau(**kwargs))
    params = {"w": jnp.ones((2, 2), jnp.float32), "b": jnp.zeros(2, jnp.bfloat16)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    grads = jax.tree.map(jnp.ones_like, params)
    for k, v in enumerate(metrics[:60]):
        updates, state = update(grads, state, params, value=jnp.asarray(v))
        expected = -0.1 * want[k] * np.ones((2, 2))
        np.testing.assert_allclose(updates["w"], expected, rtol=tol("formula", np.float32))
        assert updates["w"].dtype == jnp.float32 and updates["b"].dtype == jnp.bfloat16
    assert float(state[1].scale) == want[59] < 1.0


def test_through_nnx_optimizer_update():
    # A large relative threshold: the loss keeps falling, but not by 30% a step.
    kwargs = dict(factor=0.5, patience=1, threshold=0.3)
    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    tx = optax.chain(optax.sgd(0.05), reduce_lr_on_plateau(**kwargs))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(16, 3)), jnp.float32)
    y = jnp.sum(x, axis=1, keepdims=True)

    @nnx.jit
    def train_step(model, optimizer):
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads, value=loss)
        return loss

    losses, scales = [], []
    for _ in range(40):
        losses.append(float(train_step(model, optimizer)))
        scales.append(float(optimizer.opt_state[1].scale[...]))
    want = torch_scales(losses, **kwargs)
    assert np.any(want < 1.0)
    np.testing.assert_array_equal(scales, want)


def test_state_structure_and_init():
    tx = reduce_lr_on_plateau(mode="max")
    state = tx.init({"a": jnp.zeros(3)})
    assert isinstance(state, ReduceLROnPlateauState)
    assert float(state.best) == -np.inf
    assert float(reduce_lr_on_plateau().init(None).best) == np.inf
    assert state.num_bad_epochs.dtype == state.cooldown_counter.dtype == jnp.int32
    assert state.count.dtype == jnp.int32
    _, new = tx.update({"a": jnp.ones(3)}, state, value=0.5)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert [x.dtype for x in jax.tree.leaves(new)] == [x.dtype for x in jax.tree.leaves(state)]
    assert int(new.count) == 1


def test_update_without_value_raises():
    tx = reduce_lr_on_plateau()
    message = r"jopt\.reduce_lr_on_plateau: update\(\) needs the monitored metric as value="
    with pytest.raises(ValueError, match=message):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(factor=1.0), r"factor=1\.0 is invalid; factor must be in \[0, 1\)"),
        (dict(factor=-0.1), r"factor=-0\.1 is invalid"),
        (dict(patience=-1), r"patience=-1 is invalid; patience must be an integer >= 0"),
        (dict(patience=2.5), r"patience=2\.5 is invalid"),
        (dict(threshold=-1e-4), r"threshold=-0\.0001 is invalid; threshold must be in \[0, inf\)"),
        (
            dict(threshold_mode="relative"),
            r"threshold_mode='relative' is invalid; threshold_mode must be one of 'rel', 'abs'",
        ),
        (dict(cooldown=-2), r"cooldown=-2 is invalid"),
        (dict(min_scale=-1.0), r"min_scale=-1\.0 is invalid"),
        (dict(mode="maximize"), r"mode='maximize' is invalid; mode must be one of 'min', 'max'"),
        (dict(eps=-1.0), r"eps=-1\.0 is invalid"),
    ],
)
def test_invalid_configuration_raises(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=r"jopt\.reduce_lr_on_plateau: " + message):
        reduce_lr_on_plateau(**kwargs)


# ------------------------------------------------------------- min_lr as an absolute rate


ABSOLUTE = {
    "floor": dict(factor=0.3, patience=2, min_lr=1e-4),
    "eps_in_rate_units": dict(factor=0.5, patience=0, threshold=0.5, eps=1e-3),
    "floor_and_eps_cooldown": dict(factor=0.1, patience=1, cooldown=2, min_lr=3e-5, eps=1e-6),
}


@pytest.mark.parametrize("config", list(ABSOLUTE))
def test_min_lr_with_base_lr_matches_torch_and_the_rule(config):
    kwargs, base = dict(ABSOLUTE[config]), 0.05
    tx = reduce_lr_on_plateau(base_lr=base, **kwargs)
    names = ("loss", "negative_loss", "staircase", "rising")
    scales, _, _ = _run_jopt(tx, np.stack([METRICS[n] for n in names]))
    reduced = 0
    for i, name in enumerate(names):
        metrics = METRICS[name]
        want = torch_lrs(metrics, base, **kwargs)
        reduced += bool(np.any(want < base))
        np.testing.assert_allclose(
            base * scales[i], want, rtol=tol("formula"), err_msg=f"{config}/{name}"
        )
        np.testing.assert_array_equal(numpy_lrs(metrics, base, **kwargs), want)
    assert reduced >= 3
    # The same numbers read relative to base lr 1 are a different rule: this test can fail.
    want = torch_lrs(METRICS["staircase"], base, **kwargs)
    if "min_lr" in kwargs:
        kwargs["min_scale"] = kwargs.pop("min_lr")
    scales, _, _ = _run_jopt(reduce_lr_on_plateau(**kwargs), METRICS["staircase"])
    assert not np.allclose(base * scales, want)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(min_lr=1e-4), r"min_lr=0\.0001 with base_lr=None, min_scale=None is invalid"),
        (
            dict(min_lr=1e-4, base_lr=0.1, min_scale=0.01),
            r"min_lr=0\.0001 with base_lr=0\.1, min_scale=0\.01 is invalid",
        ),
        (dict(base_lr=0.0), r"base_lr=0\.0 is invalid; base_lr must be in \(0, inf\)"),
        (dict(min_lr=-1.0, base_lr=0.1), r"min_lr=-1\.0 is invalid"),
    ],
)
def test_invalid_min_lr_raises(kwargs, message):
    with pytest.raises(ValueError, match=r"jopt\.reduce_lr_on_plateau: " + message):
        reduce_lr_on_plateau(**kwargs)


@pytest.mark.parametrize("value", ["low", [1.0, 2.0], jnp.ones(2), 1 + 2j, None])
def test_plateau_refuses_a_metric_that_is_not_a_real_scalar(value):
    tx = reduce_lr_on_plateau()
    state = tx.init(jnp.zeros(2))
    with pytest.raises((TypeError, ValueError), match=r"jopt.reduce_lr_on_plateau: .*value"):
        tx.update(jnp.ones(2), state, value=value)
