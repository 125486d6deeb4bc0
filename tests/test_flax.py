"""jopt in Flax: nnx.Optimizer trains an MLP on digits; a linen TrainState steps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx
from flax.training import train_state
from sklearn.datasets import load_digits

import jopt


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(64, 32, rngs=rngs)
        self.l2 = nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def digits():
    x, y = load_digits(return_X_y=True)
    return jnp.asarray(x / 16.0, jnp.float32), jnp.asarray(y, jnp.int32)


def xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@pytest.mark.slow  # three MLP trainings on digits
@pytest.mark.parametrize(
    "tx", [jopt.adam(1e-2), jopt.sgd(0.1, 0.9), jopt.rmsprop(1e-3)], ids=["adam", "sgd", "rmsprop"]
)
def test_nnx_optimizer_trains_an_mlp_with_minibatches(tx):
    x, y = digits()
    model = MLP(nnx.Rngs(0))
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, xb, yb):
        loss, grads = nnx.value_and_grad(lambda m: xent(m(xb), yb))(model)
        opt.update(model, grads)
        return loss

    first = float(xent(model(x), y))
    for epoch in range(3):
        for idx in jopt.minibatch_indices(jax.random.key(epoch), x.shape[0], 64):
            step(model, opt, x[idx], y[idx])
    last = float(xent(model(x), y))
    accuracy = float(jnp.mean(jnp.argmax(model(x), -1).astype(y.dtype) == y))
    assert last < 0.5 * first and accuracy > 0.85, (first, last, accuracy)
    assert float(jopt.get_learning_rate(opt.opt_state)) > 0.0


def test_linen_train_state_steps_like_the_bare_transform():
    params = {"w": jnp.ones((3, 2), jnp.float32), "b": jnp.zeros(2, jnp.float32)}
    grads = jax.tree.map(lambda p: 0.5 * p + 1.0, params)
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=jopt.adamw(0.1))
    state = state.apply_gradients(grads=grads)
    tx = jopt.adamw(0.1)
    u, _ = tx.update(grads, tx.init(params), params)
    jopt.testing.assert_trees_close(state.params, optax.apply_updates(params, u))
    assert int(state.step) == 1


@pytest.mark.parametrize(
    "make",
    [lambda: jopt.adafactor(1e-2)],
    ids=["adafactor-factored"],
)
def test_nnx_optimizer_keeps_a_leafs_namedtuple_state(make):
    # nnx.Optimizer hands a per-parameter NamedTuple (FactoredSecondMoment)
    # back as an nnx.State mapping; the next update takes it, and the
    # steps are the bare transform's.
    x, y = digits()
    model = MLP(nnx.Rngs(0))
    tx = make()
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    state = tx.init(params)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def loss(m):
        return xent(m(x[:64]), y[:64])

    for _ in range(3):
        grads = nnx.grad(loss)(model)
        pure = nnx.to_pure_dict(grads)
        updates, state = tx.update(pure, state, params)
        params = optax.apply_updates(params, updates)
        opt.update(model, grads)
    got = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(params), strict=True):
        assert jnp.array_equal(a, b)
