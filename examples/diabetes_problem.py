"""Your own problem in ``jopt-compare``: a linear model on scikit-learn's diabetes data.

    jopt-compare --problem examples/diabetes_problem.py:diabetes --out diabetes-report

``--problem MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``) calls ``FUNCTION(seed)`` (or
``FUNCTION()``) and runs the whole study on the ``jopt.compare.Task`` it returns: every
optimizer (add any optax or jopt transform with ``--optimizers``, e.g.
``--optimizers sgd,adam,optax.lion``) at learning-rate grids that bracket its best rate,
constant lr vs StepLR vs cosine, several seeds, one vmapped program per optimizer family,
and the report and figures as for the built-in problems.

The contract, all of it shown below: initial ``params`` (a pytree of float arrays), a
``loss(params, batch) -> scalar`` that averages over the batch, the training ``data`` as
arrays sharing their leading axis (here a tuple ``(x, y)``, so a batch is ``(x[idx],
y[idx])``), a ``batch_size``; optionally ``test_data`` with a ``metric(params, batch) ->
scalar`` reported on it, and the known minimum of the loss (``min_loss``, ``minimizer``)
when you have it: the report then shows how far each optimizer ends from it. The loss and
the metric are traced by JAX (``jax.numpy`` only, no Python branches on values).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jopt.compare import Task


def loss(params, batch):
    """Half the mean squared error of the linear model."""
    x, y = batch
    r = x @ params["w"] + params["b"] - y
    return 0.5 * jnp.mean(r * r)


def r_squared(params, batch):
    """The coefficient of determination on a batch (1 is a perfect fit)."""
    x, y = batch
    r = x @ params["w"] + params["b"] - y
    return 1.0 - jnp.sum(r * r) / jnp.sum((y - jnp.mean(y)) ** 2)


def diabetes(seed: int = 0) -> Task:
    """442 patients, 10 standardized features, the disease progression a year later
    (standardized); 80% for training, 20% held out."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    x, y = load_diabetes(return_X_y=True)
    split = train_test_split(x, y, test_size=0.2, random_state=seed)
    x_train, x_test, y_train, y_test = (np.asarray(a, np.float64) for a in split)
    mean, scale = x_train.mean(0), x_train.std(0)
    y_mean, y_scale = y_train.mean(), y_train.std()
    x_train, x_test = (x_train - mean) / scale, (x_test - mean) / scale
    y_train, y_test = (y_train - y_mean) / y_scale, (y_test - y_mean) / y_scale
    f32 = np.float32
    x_train, y_train = x_train.astype(f32), y_train.astype(f32)

    # the least-squares solution (float64, on the float32 data): the known minimum
    design = np.c_[x_train.astype(np.float64), np.ones(len(x_train))]
    coef = np.linalg.lstsq(design, y_train.astype(np.float64), rcond=None)[0]
    min_loss = 0.5 * float(np.mean((design @ coef - y_train) ** 2))

    return Task(
        params={"w": jnp.zeros(10, jnp.float32), "b": jnp.zeros((), jnp.float32)},
        loss=loss,
        data=(jnp.asarray(x_train), jnp.asarray(y_train)),
        batch_size=16,
        test_data=(jnp.asarray(x_test, jnp.float32), jnp.asarray(y_test, jnp.float32)),
        metric=r_squared,
        metric_name="test R²",
        min_loss=min_loss,
        minimizer={
            "w": jnp.asarray(coef[:10], jnp.float32),
            "b": jnp.asarray(coef[10], jnp.float32),
        },
        title="Linear regression on scikit-learn's diabetes data (--problem example)",
    )
