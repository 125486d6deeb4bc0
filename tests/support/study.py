"""What the jopt-compare tests share: one configuration of the study, 40 steps, 2 seeds
(the deck claims need two to judge), seed 3 (a run at the same steps and seeds reuses the
compiled programs of an earlier one in the same process), and a quadratic task whose best
learning rate is known."""

import jax.numpy as jnp

from jopt.compare import Task

STEPS, SEEDS, SEED = 40, 2, 3
FAST = ["--steps", str(STEPS), "--seed", str(SEED), "--seeds", str(SEEDS)]


class Quadratic:
    """½·c·‖θ‖²; the data (zeros) make every mini-batch gradient the full gradient."""

    def __init__(self, curvature: float):
        self.c = curvature

    def __call__(self, theta, batch):
        return 0.5 * self.c * jnp.sum(theta * theta) + 0.0 * jnp.mean(batch)


def quadratic_task(curvature: float) -> Task:
    """A ``jopt.compare.Task`` on :class:`Quadratic`: GD's best rate is 1/curvature."""
    return Task(
        params=jnp.ones(2, jnp.float32),
        loss=Quadratic(curvature),
        data=jnp.zeros((8, 1), jnp.float32),
        batch_size=4,
    )
