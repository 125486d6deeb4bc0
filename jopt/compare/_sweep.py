"""The vmapped ``lax.scan`` runner for the 2-D problems.

One jitted program per problem: inside it, a Python loop over the optimizer families
(their states have different structures) builds, for each family, one ``lax.scan`` over
the steps that is ``vmap``ped over the learning rates and over the seeds. The jopt
transform is built inside the vmapped function, from the traced learning rate.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import jopt
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._surfaces import F32, Surface


@dataclass
class Runs:
    """One optimizer on one problem: arrays indexed [lr, seed, step]."""

    lrs: np.ndarray  # [L]
    trajectory: np.ndarray  # [L, S, T+1, 2] the iterates θ_0 … θ_T
    loss: np.ndarray  # [L, S, T+1] the full-batch loss f(θ_t)
    step_size: np.ndarray  # [L, S, T] effective step ‖Δθ_t‖ / ‖g_t‖


def _batches(key: jax.Array, steps: int, num_examples: int, batch_size: int) -> jax.Array:
    """``steps`` mini-batches: consecutive epochs of ``jopt.minibatch_indices``."""
    per_epoch = num_examples // batch_size
    epochs = math.ceil(steps / per_epoch)
    idx = jax.vmap(lambda k: jopt.minibatch_indices(k, num_examples, batch_size))(
        jax.random.split(key, epochs)
    )
    return idx.reshape(-1, batch_size)[:steps]


def _one_run(problem, opt, steps, data, lr, theta0, key):
    tx = opt.make(lr)
    grad_f = jax.grad(problem.f)

    def step(carry, batch):
        theta, state = carry
        g = grad_f(theta)
        if batch is not None:  # the mini-batch loss adds the batch's mean tilt
            g = g + jnp.mean(data[batch], axis=0)
        updates, state = tx.update(g, state, theta)
        gnorm = jnp.sqrt(jnp.sum(g * g))
        eff = jnp.where(gnorm > 0, jnp.sqrt(jnp.sum(updates * updates)) / gnorm, jnp.zeros([], F32))
        return (theta + updates, state), (theta, eff)

    xs = _batches(key, steps, problem.data_size, problem.batch_size) if opt.stochastic else None
    (theta_t, _), (thetas, eff) = jax.lax.scan(step, (theta0, tx.init(theta0)), xs, length=steps)
    traj = jnp.concatenate([thetas, theta_t[None]], axis=0)
    return traj, jax.vmap(problem.f)(traj), eff


@functools.partial(jax.jit, static_argnames=("problem", "optimizers", "steps"))
def _program(problem, optimizers, steps, lrs, starts, data, keys):
    out = []
    for name, lr in zip(optimizers, lrs, strict=True):
        run = functools.partial(_one_run, problem, OPTIMIZERS[name], steps, data)
        over_seeds = jax.vmap(run, in_axes=(None, 0, 0))
        out.append(jax.vmap(over_seeds, in_axes=(0, None, None))(lr, starts, keys))
    return out


def run_surface(
    problem_name: str, problem: Surface, optimizers: tuple[str, ...], steps: int, seed: int
):
    """Runs every optimizer × learning rate × seed of one surface as one jitted program."""
    key = jax.random.fold_in(jax.random.key(seed), sum(map(ord, problem_name)))
    k_start, k_data, k_batch = jax.random.split(key, 3)
    starts = problem.starts(k_start)
    data = problem.data(k_data)
    keys = jax.random.split(k_batch, problem.seeds)
    lrs = tuple(
        jnp.asarray(problem.lrs_adaptive if OPTIMIZERS[n].adaptive else problem.lrs_plain, F32)
        for n in optimizers
    )
    out = _program(problem, optimizers, steps, lrs, starts, data, keys)
    out = jax.device_get(out)
    return {
        name: Runs(np.asarray(lr), np.asarray(t), np.asarray(f), np.asarray(e))
        for name, lr, (t, f, e) in zip(optimizers, lrs, out, strict=True)
    }
