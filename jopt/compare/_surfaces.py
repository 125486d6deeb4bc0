"""The 2-D test functions of the study, each chosen to show one of the deck's claims.

Every surface is a finite sum E(θ) = f(θ) + (1/N) Σ_n z_nᵀθ over a sampled data set of
N tilts z_n, centred so that Σ_n z_n = 0: the full-batch loss is exactly the test
function f, and the loss of a random mini-batch B, f(θ) + mean_{n∈B} z_nᵀθ, gives an
unbiased stochastic gradient whose noise comes only from which examples were drawn
(``jopt.minibatch_indices``). Full-batch optimizers see ∇f exactly, as in the study the
deck cites; ``sgd`` sees mini-batch gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

F32 = jnp.float32


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with its start, learning-rate grids, plot extent and sampled data."""

    f: Callable[[jax.Array], jax.Array]  # θ of shape [2] -> scalar
    start: tuple[float, float]
    minimum: tuple[float, float]
    # the initial block of learning rates, shared by every optimizer (lowest, highest; points
    # of the runner's log grid)
    lrs: tuple[float, float]
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1 of the contour plot
    noise: float = 1.0  # std of the data-set tilts z_n
    data_size: int = 256
    batch_size: int = 1  # the deck's SGD: |B| = 1
    start_jitter: tuple[float, float] = (0.0, 0.0)  # half-widths of the random start box
    log_contours: bool = True
    barrier: float | None = None  # x of the barrier between a local and the global basin

    def starts(self, key: jax.Array, runs: int) -> jax.Array:
        """``runs`` starting points, float32 ``[runs, 2]``; run 0 starts at ``start``."""
        u = jax.random.uniform(key, (runs, 2), F32, -1.0, 1.0)
        u = u.at[0].set(0.0)
        return jnp.asarray(self.start, F32) + u * jnp.asarray(self.start_jitter, F32)

    def data(self, key: jax.Array) -> jax.Array:
        """The data set of tilts z_n, float32 ``[data_size, 2]``, centred exactly."""
        z = np.asarray(jax.random.normal(key, (self.data_size, 2), F32), np.float64)
        z = (z - z.mean(0)) / z.std(0) * self.noise
        return jnp.asarray(z, F32)


def _valley(p):
    # a deep narrow valley along x: curvature 0.1 along it, 10 across it (condition 100)
    return 0.05 * p[0] ** 2 + 5.0 * p[1] ** 2


def _rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def _beale(p):
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _minima(p):
    # a tilted double well in x: a local basin at x ≈ +0.96, the global one at x ≈ −1.04,
    # a barrier at x ≈ 0.08
    x, y = p[0], p[1]
    return (x**2 - 1.0) ** 2 + 0.3 * x + 0.5 * y**2


def _plateau(p):
    # a steep cliff (slope ≈ 10 for x < 0) onto a long gentle slope to the minimum near x ≈ 8
    x, y = p[0], p[1]
    return 10.0 * jax.nn.softplus(-x) + 0.01 * (x - 8.0) ** 2 + 0.5 * y**2


VALLEY = Surface(
    _valley,
    start=(-9.0, 1.5),
    minimum=(0.0, 0.0),
    lrs=(0.1, 1.0),
    extent=(-10.0, 2.0, -2.0, 2.0),
    noise=0.5,
    log_contours=False,
)
ROSENBROCK = Surface(
    _rosenbrock,
    start=(-1.5, 2.0),
    minimum=(1.0, 1.0),
    lrs=(0.01, 0.1),
    extent=(-2.0, 2.0, -1.0, 3.0),
    noise=2.0,
)
BEALE = Surface(
    _beale,
    start=(2.0, 2.0),
    minimum=(3.0, 0.5),
    lrs=(0.01, 0.1),
    extent=(-1.0, 4.5, -1.5, 2.5),
    noise=0.5,
)
MINIMA = Surface(
    _minima,
    start=(1.1, 0.0),
    minimum=(-1.04, 0.0),
    lrs=(0.0316, 0.316),
    extent=(-2.0, 2.0, -2.0, 2.0),
    noise=2.5,
    start_jitter=(0.4, 0.8),
    log_contours=False,
    barrier=0.0765,
)
PLATEAU = Surface(
    _plateau,
    start=(-3.0, 0.0),
    minimum=(8.17, 0.0),
    lrs=(0.1, 1.0),
    extent=(-4.0, 10.0, -2.0, 2.0),
    noise=0.5,
    log_contours=False,
)
