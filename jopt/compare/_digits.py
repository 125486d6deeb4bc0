"""The real-data study: a Flax NNX MLP on scikit-learn's bundled digits.

One jitted program: for each optimizer family, one ``lax.scan`` over epochs (each epoch an
inner scan over the ``jopt.minibatch_indices`` mini-batches) ``vmap``ped over learning rate ×
schedule. The model is defined with Flax NNX and run as a pure function of its parameters
(``nnx.split`` once, ``nnx.merge`` inside the traced step), so it can be vmapped.
``gd`` takes full-batch steps on the whole training split; every other optimizer takes
mini-batch steps. All runs start from the same initial weights.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jopt
from jopt.compare._optimizers import OPTIMIZERS, SCHEDULES
from jopt.compare.digits import BATCH_SIZE, HIDDEN, MLP, DigitsData

F32 = jnp.float32
LRS_PLAIN = (0.03, 0.1, 0.3, 1.0, 3.0)
LRS_ADAPTIVE = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
LRS_ADAGRAD = (3e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # AdaGrad's steps shrink: its useful rates are larger
STEP_GAMMA = 0.1


def lrs_for(name: str) -> tuple[float, ...]:
    if name == "adagrad":
        return LRS_ADAGRAD
    return LRS_ADAPTIVE if OPTIMIZERS[name].adaptive else LRS_PLAIN


@dataclass
class DigitsRuns:
    """One optimizer: arrays indexed [lr, schedule, epoch]."""

    lrs: np.ndarray  # [L]
    train_loss: np.ndarray  # [L, K, E] full training-split loss after each epoch
    val_acc: np.ndarray  # [L, K, E]
    test_acc: np.ndarray  # [L, K, E]
    lr_used: np.ndarray  # [L, K, E] the learning rate of the epoch's last step


def _loss(graphdef, params, x, y):
    logits = nnx.merge(graphdef, params)(x)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def _accuracy(graphdef, params, x, y):
    pred = jnp.argmax(nnx.merge(graphdef, params)(x), axis=-1).astype(jnp.int32)
    return jnp.mean((pred == y).astype(F32))


def _schedule(lr, kind, total_steps):
    const = lambda count: lr  # noqa: E731
    step = jopt.schedules.step_lr(lr, max(1, math.ceil(total_steps / 3)), STEP_GAMMA)
    cosine = jopt.schedules.cosine_annealing_lr(lr, total_steps)
    return lambda count: jax.lax.switch(kind, (const, step, cosine), count)


def _one_run(graphdef, opt, epochs, data, params0, lr, kind, key):
    x_tr, y_tr, x_va, y_va, x_te, y_te = data
    n = x_tr.shape[0]
    per_epoch = n // BATCH_SIZE
    tx = opt.make(_schedule(lr, kind, epochs * per_epoch))
    grad_fn = jax.grad(functools.partial(_loss, graphdef))
    full_batch = opt.name == "gd"

    def step(carry, idx):
        params, state = carry
        x, y = (x_tr, y_tr) if full_batch else (x_tr[idx], y_tr[idx])
        updates, state = tx.update(grad_fn(params, x, y), state, params)
        return (optax.apply_updates(params, updates), state), None

    def epoch(carry, k):
        idx = jopt.minibatch_indices(k, n, BATCH_SIZE)
        carry, _ = jax.lax.scan(step, carry, idx)
        params, state = carry
        metrics = (
            _loss(graphdef, params, x_tr, y_tr),
            _accuracy(graphdef, params, x_va, y_va),
            _accuracy(graphdef, params, x_te, y_te),
            jnp.asarray(jopt.get_learning_rate(state)).astype(F32),
        )
        return carry, metrics

    _, metrics = jax.lax.scan(epoch, (params0, tx.init(params0)), jax.random.split(key, epochs))
    return metrics


@functools.partial(jax.jit, static_argnames=("graphdef", "optimizers", "epochs"))
def _program(graphdef, optimizers, epochs, data, params0, lrs, key):
    out = []
    kinds = jnp.arange(len(SCHEDULES), dtype=jnp.int32)
    for name, lr in zip(optimizers, lrs, strict=True):
        run = functools.partial(_one_run, graphdef, OPTIMIZERS[name], epochs, data, params0)
        # the same mini-batch order for every run of the study
        over_kinds = jax.vmap(run, in_axes=(None, 0, None))
        out.append(jax.vmap(over_kinds, in_axes=(0, None, None))(lr, kinds, key))
    return out


def epochs_for(steps: int, data: DigitsData) -> int:
    """``steps`` mini-batch steps rounded up to whole epochs."""
    return max(1, math.ceil(steps / (data.x_train.shape[0] // BATCH_SIZE)))


def run_digits(optimizers: tuple[str, ...], steps: int, seed: int, data: DigitsData):
    epochs = epochs_for(steps, data)
    model = MLP(HIDDEN, rngs=nnx.Rngs(seed))
    graphdef, params0 = nnx.split(model)
    arrays = tuple(
        jnp.asarray(a)
        for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    )
    lrs = tuple(jnp.asarray(lrs_for(n), F32) for n in optimizers)
    key = jax.random.fold_in(jax.random.key(seed), 7)
    out = jax.device_get(_program(graphdef, optimizers, epochs, arrays, params0, lrs, key))
    return {
        name: DigitsRuns(np.asarray(lr), *(np.asarray(m) for m in metrics))
        for name, lr, metrics in zip(optimizers, lrs, out, strict=True)
    }
