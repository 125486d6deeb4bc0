"""``jopt.compare.Task``: the contract for ``jopt-compare --problem module:function``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True, eq=False)
class Task:
    """A training problem for ``jopt-compare --problem module:function``.

    The function takes no arguments, or one: the ``--seed``, and returns a ``Task``. Every
    optimizer starts from ``params``; mini-batch optimizers draw batches of ``batch_size``
    examples from ``data`` (epochs of ``jopt.minibatch_indices``, a new order per seed),
    GD takes full-batch steps. The study chooses each optimizer's learning rate by the final
    ``loss`` on the whole of ``data`` and reports ``metric`` on ``test_data`` at that rate.

    Attributes:
      params: initial parameters, a pytree of float arrays.
      loss: ``loss(params, batch) -> scalar``, the mean loss over a batch; ``batch`` has the
        structure of ``data`` with a leading axis of ``batch_size`` examples (or all of them).
      data: the training examples, a pytree of arrays (a tuple ``(x, y)``, a dict, one
        array) that share their leading axis.
      batch_size: examples per mini-batch, at most the number of examples.
      test_data: optional held-out examples, the structure of ``data``.
      metric: optional ``metric(params, batch) -> scalar`` on ``test_data`` (accuracy, R², …).
      metric_name: the metric's name in the report.
      min_loss: optional known minimum of the full-data loss; the report then shows each
        optimizer's distance to it.
      minimizer: optional parameters at that minimum; the report then shows ‖θ − θ*‖.
      title: one line describing the problem.
    """

    params: Any
    loss: Callable[[Any, Any], Any]
    data: Any
    batch_size: int = 32
    test_data: Any = None
    metric: Callable[[Any, Any], Any] | None = None
    metric_name: str = "test metric"
    min_loss: float | None = None
    minimizer: Any = None
    title: str = ""

    @property
    def num_examples(self) -> int:
        return int(jax.tree.leaves(self.data)[0].shape[0])


class TaskError(ValueError):
    """A ``--problem`` that cannot be run; the message is one line for the user."""


def _leading(tree, what: str) -> int:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise TaskError(f"{what} holds no arrays")
    shapes = [np.shape(a) for a in leaves]
    if any(len(s) == 0 for s in shapes):
        raise TaskError(f"{what} arrays need a leading axis of examples; got shapes {shapes}")
    if len({s[0] for s in shapes}) != 1:
        raise TaskError(f"{what} arrays must share their leading axis (examples); got {shapes}")
    return shapes[0][0]


def _scalar(fn, name: str, params, batch, data_name: str) -> None:
    try:
        out = jax.eval_shape(fn, params, batch)
    except Exception as e:  # noqa: BLE001 - any failure is the user's to fix, in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TaskError(
            f"{name}(params, batch) failed on a batch of {data_name}: {first}"
        ) from None
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise TaskError(f"{name}(params, batch) must return a scalar; it returned shape {shape}")


def check(task: Any, where: str) -> Task:
    """The task, as arrays, once checked: every problem found is a ``TaskError``."""
    if not isinstance(task, Task):
        raise TaskError(f"{where} must return a jopt.compare.Task, not {type(task).__name__}")
    params = jax.tree.map(jnp.asarray, task.params)
    leaves = jax.tree.leaves(params)
    if not leaves or not all(jnp.issubdtype(a.dtype, jnp.floating) for a in leaves):
        raise TaskError("Task.params must be a pytree of float arrays")
    data = jax.tree.map(jnp.asarray, task.data)
    n = _leading(data, "Task.data")
    if not (isinstance(task.batch_size, int) and 1 <= task.batch_size <= n):
        raise TaskError(f"Task.batch_size must be an integer in [1, {n}]; got {task.batch_size!r}")
    if not callable(task.loss):
        raise TaskError("Task.loss must be a function loss(params, batch) -> scalar")
    batch = jax.tree.map(lambda a: a[: task.batch_size], data)
    _scalar(task.loss, "loss", params, batch, "Task.data")
    test = None
    if task.test_data is not None:
        test = jax.tree.map(jnp.asarray, task.test_data)
        _leading(test, "Task.test_data")
        if jax.tree.structure(test) != jax.tree.structure(data):
            raise TaskError("Task.test_data must have the structure of Task.data")
    if (task.metric is None) != (test is None):
        raise TaskError("Task.metric and Task.test_data come together: give both or neither")
    if task.metric is not None:
        _scalar(task.metric, "metric", params, test, "Task.test_data")
    minimizer = None
    if task.minimizer is not None:
        minimizer = jax.tree.map(jnp.asarray, task.minimizer)
        if jax.tree.structure(minimizer) != jax.tree.structure(params):
            raise TaskError("Task.minimizer must have the structure of Task.params")
    return Task(
        params,
        task.loss,
        data,
        task.batch_size,
        test,
        task.metric,
        task.metric_name,
        None if task.min_loss is None else float(task.min_loss),
        minimizer,
        task.title,
    )


def load(spec: str, seed: int) -> tuple[str, Task]:
    """``module:function`` -> (function name, checked task). The current directory is on the
    import path, as for ``python -m``; a ``path/to/file.py:function`` is loaded from the file."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise TaskError(f"--problem must be module:function, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TaskError(f"--problem: no file {module_name}")
            ispec = importlib.util.spec_from_file_location(path.stem, path)
            if ispec is None or ispec.loader is None:
                raise TaskError(f"--problem: cannot import {module_name}")
            module = importlib.util.module_from_spec(ispec)
            ispec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise TaskError(f"--problem: no module named {e.name!r} (from {spec!r})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise TaskError(f"--problem: module {module_name!r} has no function {func_name!r}")
    try:
        takes_seed = len(inspect.signature(func).parameters) >= 1
    except (TypeError, ValueError):
        takes_seed = False
    try:
        task = func(seed) if takes_seed else func()
    except Exception as e:  # noqa: BLE001 - the user's function failed: say so in one line
        raise TaskError(f"--problem: {spec} raised {type(e).__name__}: {e}") from None
    return func_name, check(task, spec)
