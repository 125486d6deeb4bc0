"""Parity harness: jopt.compat presets against the real torch.optim and keras.optimizers.

The lockstep cases are defined here, once: tests/compat/conftest.py runs them (a few
compiled programs, :data:`TORCH_QUICK`, :data:`TORCH_SLOW`, :data:`KERAS_QUICK`,
:data:`KERAS_SLOW`), each family's test file (``tests/compat/torch/test_<family>.py``,
``tests/compat/keras/test_<family>.py``) checks the runs of its presets (:func:`torch_cases`,
:func:`keras_cases`, :func:`select`), and ``python -m docs.make_parity`` (which writes
docs/parity.md) runs every case of :data:`TORCH_CASES` and :data:`KERAS_CASES` in both
dtypes, so the tests and the table run the same configurations. The other shared checks
against the libraries live here too (:func:`raises_like_torch`, :func:`raises_like_keras`,
Keras' golden protocols, :func:`keras_run`, :func:`args_entry`, :func:`readme_block`).

Lockstep: every step, the gradient of one loss is taken once, at jopt's current
parameters, and the same arrays are handed to both optimizers (torch: ``p.grad``; Keras:
``stateless_apply``). Only the optimizers' own arithmetic can then make the parameter
trajectories differ. (Each library taking its own gradient at its own parameters lets a
last-bit difference in the gradient, an FMA under jit, grow to 1e-3 wherever RMSprop-
or Adam-like steps turn sign-like near an exactly zero gradient.) As the reference never
feeds back into jopt's gradients, jopt's whole run is computed first, in one compiled
``lax.scan``, and the reference is fed the gradients it recorded. The error of a leaf at
a step is max|θ_jopt − θ_ref| (abs) and that divided by max|θ_ref| (rel); a run's error
is the maximum over leaves and steps.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt.compat.keras as jk
import jopt.compat.torch as jt
import jopt.schedules as schedules
from tests.support.tolerances import tol

STEPS = 60


def tolerance(case, dtype) -> float:
    """The relative error a case may reach: the lockstep bound of tests/support/tolerances.py,
    or the case's ``f64_tol`` in float64 where the other library itself computes in
    float32."""
    f64_tol = getattr(case, "f64_tol", None)
    return f64_tol if dtype is np.float64 and f64_tol is not None else tol("lockstep", dtype)


CURVATURE = {"w": 1.0, "b": 2.0, "s": 0.5}  # per-leaf curvature of the quadratic term


def init_params() -> dict[str, np.ndarray]:
    """A pytree of several shapes, including a scalar (float64 NumPy)."""
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=(4,)),
        "s": np.asarray(1.2),
    }


def params_with_tensor() -> dict[str, np.ndarray]:
    """init_params plus a 3-axis leaf (Adafactor factors its last two axes)."""
    rng = np.random.default_rng(1)
    return {**init_params(), "t": rng.normal(size=(2, 3, 4))}


def matrix_params() -> dict[str, np.ndarray]:
    """Matrices only (PyTorch's Muon takes nothing else), one wide and one tall."""
    rng = np.random.default_rng(2)
    return {"w": rng.normal(size=(3, 4)), "v": rng.normal(size=(5, 3))}


def muon_params() -> dict[str, np.ndarray]:
    """Keras' Muon: matrices, an "embedding" and an "out_dense" matrix it may route to
    AdamW by name, and the vector and scalar that always take AdamW."""
    rng = np.random.default_rng(3)
    return {
        **init_params(),
        "v": rng.normal(size=(5, 3)),
        "embedding": rng.normal(size=(4, 3)),
        "out_dense": rng.normal(size=(3, 3)),
    }


def loss_jnp(params, sign=1.0):
    """Σ_leaves Σ [a/2 (x − 1)² + 0.3 sin(2x) + 0.1 log(1 + x²)], times ``sign``."""
    total = 0.0
    for k, x in params.items():
        a = CURVATURE.get(k, 1.0)
        total = total + jnp.sum(
            0.5 * a * (x - 1.0) ** 2 + 0.3 * jnp.sin(2.0 * x) + 0.1 * jnp.log1p(x * x)
        )
    return sign * total


def gradient(params, sign=1.0):
    """The gradient of :func:`loss_jnp`, written out: a (x − 1) + 0.6 cos(2x) + 0.2 x/(1 + x²),
    times ``sign`` (no differentiation to trace: the harness builds many programs)."""

    def leaf(k, x):
        a = CURVATURE.get(k, 1.0)
        g = a * (x - 1.0) + 0.6 * jnp.cos(2.0 * x) + 0.2 * x / (1.0 + x * x)
        return sign * g

    return {k: leaf(k, x) for k, x in params.items()}


# ---------------------------------------------------------------------------- schedules
# Each is written twice, independently: jopt's closure of the count (updates already
# applied) and the reference library's own scheduler object.


def _f(count):
    return count.astype(jnp.result_type(float))


def jopt_schedule(spec):
    kind, base, *args = spec
    if kind == "step":  # torch StepLR(step_size, gamma)
        step_size, gamma = args
        return lambda c: base * gamma ** _f(c // step_size)
    if kind == "exp":  # torch ExponentialLR(gamma)
        (gamma,) = args
        return lambda c: base * gamma ** _f(c)
    if kind == "keras_exp":  # keras ExponentialDecay(base, decay_steps, rate)
        decay_steps, rate = args
        return lambda c: base * rate ** (_f(c) / decay_steps)
    raise ValueError(kind)


def _show(value) -> str:
    if callable(value):
        return "<schedule>"
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value)


def describe(case) -> str:
    """The options of a parity case, as docs/parity.md shows them."""
    if case.text is not None:
        return case.text
    parts = [f"{k}={v}" for k, v in case.kwargs.items()]
    if case.schedule is not None:
        parts.append(describe_schedule(case.schedule))
    parts += [f"{k}={_show(v)}" for k, v in case.jopt_kwargs.items()]
    return ", ".join(parts) or "defaults"


def describe_schedule(spec) -> str:
    kind, base, *args = spec
    return {
        "step": lambda: f"lr=StepLR({base}, step_size={args[0]}, gamma={args[1]})",
        "exp": lambda: f"lr=ExponentialLR({base}, gamma={args[0]})",
        "keras_exp": lambda: f"learning_rate=ExponentialDecay({base}, {args[0]}, {args[1]})",
        "legacy_decay": lambda: f"learning_rate={base}, decay={args[0]} (keras: InverseTimeDecay)",
    }[kind]()


def beta1_ramp(k):
    """β1 from 0.95 down to 0.75 over 30 steps, then held (k: a Python int or a float array)."""
    return (
        0.95 - 0.2 * np.minimum(k, 30) / 30
        if isinstance(k, int)
        else 0.95 - 0.2 * jnp.minimum(k, 30.0) / 30.0
    )


def wd_steps(k):
    """A weight decay halved every 20 steps (k: a Python int or an int32 count)."""
    return 0.02 * 0.5 ** (k // 20) if isinstance(k, int) else 0.02 * 0.5 ** _f(k // 20)


def decaying(start, end, rate):
    """count -> end + (start − end)·rate^count, for a jopt count (array) and a torch step
    number (int) alike: a hyperparameter schedule written once for both libraries."""

    def schedule(count):
        k = count.astype(jnp.result_type(float)) if hasattr(count, "astype") else float(count)
        return end + (start - end) * rate**k

    return schedule


class GroupValues:
    """A torch "scheduler" for values torch's own schedulers set in its param groups
    (``OneCycleLR(cycle_momentum=True)`` sets momentum or betas[0]) or that no torch
    scheduler sets (Muon's momentum, a weight decay): sets each group's ``name`` to
    ``fn(steps taken)`` before every step; ``beta1`` stands for ``betas[0]``."""

    def __init__(self, opt, **fns):
        self.opt, self.fns, self.count = opt, fns, 0
        self._set()

    def _set(self):
        for group in self.opt.param_groups:
            for name, fn in self.fns.items():
                value = float(fn(self.count))
                if name == "beta1":
                    group["betas"] = (value, group["betas"][1])
                else:
                    group[name] = value

    def step(self):
        self.count += 1
        self._set()


# β1 and the weight decay as schedules: jopt gets functions of the count, torch the same
# values set in its param groups after each step (TorchCase's other fields).
BETA1_AND_WD_SCHEDULES = dict(
    jopt_kwargs=dict(betas=(lambda c: beta1_ramp(_f(c)), 0.999), weight_decay=wd_steps),
    torch_kwargs=dict(weight_decay=wd_steps(0)),
    schedulers=lambda opt: [GroupValues(opt, beta1=beta1_ramp, weight_decay=wd_steps)],
)
MUON_MOMENTUM = decaying(0.8, 0.95, 0.9)
DECAY = decaying(0.2, 0.01, 0.9)


# -------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class TorchCase:
    name: str
    preset: str  # the class name, in torch.optim and in jopt.compat.torch
    kwargs: dict = field(default_factory=dict)  # PyTorch names: passed to both sides
    schedule: tuple | None = None  # ("step", lr, step_size, gamma) | ("exp", lr, gamma)
    # Anything else: jopt-only / torch-only keyword arguments (e.g. a jopt momentum
    # schedule and torch's own scheduler), the torch schedulers stepped after each step,
    # other initial parameters, and the text for docs/parity.md.
    jopt_kwargs: dict = field(default_factory=dict)
    torch_kwargs: dict = field(default_factory=dict)
    schedulers: Callable[[Any], list] | None = None
    params: Callable[[], dict[str, np.ndarray]] = init_params
    # Run torch under torch.set_default_dtype(<the tested dtype>), as a float64 user does:
    # scalar state such as NAdam's μ-product or ASGD's η and μ is kept in torch's default
    # dtype, float32 unless a float64 user sets it.
    default_dtype: bool = False
    text: str | None = None
    # perturb(step, grads) -> the gradients both sides get at that step (as KerasCase's).
    perturb: Callable[[int, dict], dict] | None = None

    @property
    def sign(self) -> float:
        return -1.0 if self.kwargs.get("maximize") else 1.0  # maximize climbs −E

    def describe(self) -> str:
        return describe(self)


def _tiny_rows(grads: dict) -> dict:
    """A zero row of w and b scaled by 1e-17: v ≈ 1e-34 there, below ε1² in float64
    (4.9e-32) and float32 (1.4e-14), so PyTorch's default ε1 (the dtype's machine
    epsilon) sets those steps."""
    return {**grads, "w": grads["w"].at[0].set(0.0), "b": grads["b"] * 1e-17}


TORCH_CASES = [
    TorchCase("sgd", "SGD", dict(lr=0.05)),
    TorchCase(
        "sgd-momentum-dampening-wd",
        "SGD",
        dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    ),
    TorchCase(
        "sgd-nesterov-maximize-steplr",
        "SGD",
        dict(momentum=0.9, nesterov=True, maximize=True),
        ("step", 0.05, 10, 0.5),
    ),
    TorchCase("adagrad", "Adagrad", dict(lr=0.1)),
    TorchCase(
        "adagrad-lr_decay-wd-init-maximize",
        "Adagrad",
        dict(
            lr=0.2, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1, maximize=True
        ),
    ),
    TorchCase(
        "adagrad-lr_decay-explr", "Adagrad", dict(lr_decay=0.02, eps=1e-6), ("exp", 0.2, 0.97)
    ),
    TorchCase("rmsprop", "RMSprop", dict(lr=0.01)),
    TorchCase(
        "rmsprop-centered-momentum-wd",
        "RMSprop",
        dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
    ),
    TorchCase(
        "rmsprop-momentum-maximize-steplr",
        "RMSprop",
        dict(momentum=0.9, maximize=True, eps=1e-6),
        ("step", 0.01, 10, 0.5),
    ),
    TorchCase("adam", "Adam", dict(lr=0.05)),
    TorchCase(
        "adam-amsgrad-wd", "Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True)
    ),
    TorchCase(
        "adam-maximize-eps-explr", "Adam", dict(maximize=True, eps=1e-6), ("exp", 0.05, 0.95)
    ),
    TorchCase(
        "adam-decoupled_weight_decay",
        "Adam",
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    TorchCase("adamw", "AdamW", dict(lr=0.05)),
    TorchCase(
        "adamw-betas-amsgrad-steplr",
        "AdamW",
        dict(betas=(0.85, 0.995), weight_decay=0.1, amsgrad=True),
        ("step", 0.05, 15, 0.5),
    ),
    TorchCase("adamw-maximize-eps", "AdamW", dict(lr=0.05, eps=1e-6, maximize=True)),
    # Adadelta and the Adam family (issue 14)
    TorchCase("adadelta", "Adadelta", dict(lr=1.0)),
    TorchCase(
        "adadelta-rho-eps-wd-maximize-steplr",
        "Adadelta",
        dict(rho=0.8, eps=1e-4, weight_decay=0.01, maximize=True),
        ("step", 1.0, 20, 0.5),
    ),
    TorchCase("adamax", "Adamax", dict(lr=0.05)),
    TorchCase(
        "adamax-betas-eps-wd-maximize-explr",
        "Adamax",
        dict(betas=(0.8, 0.99), eps=1e-4, weight_decay=0.01, maximize=True),
        ("exp", 0.05, 0.97),
    ),
    TorchCase(
        "adamax-beta1-and-wd-schedules",
        "Adamax",
        dict(lr=0.05),
        **BETA1_AND_WD_SCHEDULES,
        text="lr=0.05, betas=(0.95 → 0.75 linearly over 30 steps, 0.999), weight_decay=0.02·0.5^⌊t/20⌋",
    ),
    TorchCase("nadam", "NAdam", dict(lr=0.05), default_dtype=True),
    TorchCase(
        "nadam-betas-momentum_decay-eps-wd-maximize",
        "NAdam",
        dict(
            lr=0.05,
            betas=(0.85, 0.99),
            momentum_decay=0.05,
            eps=1e-6,
            weight_decay=0.01,
            maximize=True,
        ),
        default_dtype=True,
    ),
    TorchCase(
        "nadam-decoupled_weight_decay-steplr",
        "NAdam",
        dict(weight_decay=0.1, decoupled_weight_decay=True),
        ("step", 0.05, 15, 0.5),
        default_dtype=True,
    ),
    TorchCase(
        "nadam-beta1-and-wd-schedules-decoupled",
        "NAdam",
        dict(lr=0.05, decoupled_weight_decay=True),
        **BETA1_AND_WD_SCHEDULES,
        text="lr=0.05, decoupled_weight_decay=True, betas=(0.95 → 0.75 over 30 steps, 0.999), weight_decay=0.02·0.5^⌊t/20⌋",
        default_dtype=True,
    ),
    TorchCase("radam", "RAdam", dict(lr=0.05)),
    TorchCase(
        "radam-betas-eps-wd-maximize-explr",
        "RAdam",
        dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, maximize=True),
        ("exp", 0.05, 0.97),
    ),
    TorchCase(
        "radam-decoupled_weight_decay",
        "RAdam",
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    TorchCase(
        "radam-beta1-and-wd-schedules",
        "RAdam",
        dict(lr=0.05),
        **BETA1_AND_WD_SCHEDULES,
        text="lr=0.05, betas=(0.95 → 0.75 over 30 steps, 0.999), weight_decay=0.02·0.5^⌊t/20⌋",
    ),
    TorchCase("adafactor", "Adafactor", dict(lr=0.5)),
    TorchCase(
        "adafactor-beta2_decay-eps-d-wd",
        "Adafactor",
        dict(lr=0.5, beta2_decay=-0.6, eps=(1e-3, 1e-2), d=1.5, weight_decay=0.05),
        params=params_with_tensor,
    ),
    TorchCase(
        "adafactor-wd-schedule",
        "Adafactor",
        dict(lr=0.5),
        jopt_kwargs=dict(weight_decay=DECAY),
        schedulers=lambda opt: [GroupValues(opt, weight_decay=DECAY)],
        text="lr=0.5, a weight_decay schedule (set on the param group)",
    ),
    TorchCase(
        "adafactor-tiny-gradients-default-eps",
        "Adafactor",
        dict(lr=0.5),
        params=params_with_tensor,
        perturb=lambda step, grads: _tiny_rows(grads),
        text="lr=0.5, a zero row of w's gradient and b's scaled by 1e-17 (ε1's default sets b's step)",
    ),
    TorchCase(
        "adafactor-maximize-wd-steplr",
        "Adafactor",
        dict(weight_decay=0.1, maximize=True),
        ("step", 0.2, 10, 0.5),
    ),
    TorchCase("muon", "Muon", dict(lr=0.015625), params=matrix_params),
    TorchCase(
        "muon-momentum-wd-schedules",
        "Muon",
        dict(lr=0.015625),
        jopt_kwargs=dict(momentum=MUON_MOMENTUM, weight_decay=DECAY),
        schedulers=lambda opt: [GroupValues(opt, momentum=MUON_MOMENTUM, weight_decay=DECAY)],
        params=matrix_params,
        text="lr=0.015625, momentum and weight_decay schedules (set on the param group)",
    ),
    TorchCase(
        "muon-momentum-no-nesterov-wd-match_rms_adamw",
        "Muon",
        dict(
            lr=0.015625,
            weight_decay=0.05,
            momentum=0.9,
            nesterov=False,
            adjust_lr_fn="match_rms_adamw",
        ),
        params=matrix_params,
    ),
    TorchCase(
        "muon-ns-eps-original-maximize-steplr",
        "Muon",
        dict(
            ns_coefficients=(2.0, -1.5, 0.5),
            ns_steps=3,
            eps=1e-3,
            adjust_lr_fn="original",
            maximize=True,
        ),
        ("step", 0.03125, 10, 0.5),
        params=matrix_params,
    ),
]


# ---- schedulers that cycle momentum / β1 (issue 14): jopt's momentum half of the
# schedule against torch's scheduler with cycle_momentum=True, stepped after every step.


def _lr_scheduler(name: str, **kwargs) -> Callable[[Any], list]:
    def make(opt) -> list:
        import torch

        return [getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)]

    return make


TORCH_CASES += [
    TorchCase(
        "sgd-onecyclelr-cycle_momentum",
        "SGD",
        dict(momentum=0.9, nesterov=True),
        jopt_kwargs=dict(
            lr=schedules.one_cycle_lr(0.05, STEPS),
            momentum=schedules.one_cycle_momentum(STEPS),
        ),
        torch_kwargs=dict(lr=0.05),
        schedulers=_lr_scheduler("OneCycleLR", max_lr=0.05, total_steps=STEPS),
        text="momentum=0.9, nesterov=True, OneCycleLR(max_lr=0.05, total_steps=60) with "
        "cycle_momentum=True",
    ),
    TorchCase(
        "adam-cycliclr-cycle_momentum",
        "Adam",
        dict(betas=(0.9, 0.99)),
        jopt_kwargs=dict(
            lr=schedules.cyclic_lr(0.01, 0.05, 10, 5),
            betas=(schedules.cyclic_momentum(0.8, 0.9, 10, 5), 0.99),
        ),
        torch_kwargs=dict(lr=0.01),
        schedulers=_lr_scheduler(
            "CyclicLR", base_lr=0.01, max_lr=0.05, step_size_up=10, step_size_down=5
        ),
        text="betas=(0.9, 0.99), CyclicLR(0.01, 0.05, 10, 5) with cycle_momentum=True "
        "(base_momentum=0.8, max_momentum=0.9)",
    ),
    TorchCase(
        "rmsprop-onecyclelr-three_phase-cycle_momentum",
        "RMSprop",
        dict(momentum=0.5, centered=True),
        jopt_kwargs=dict(
            lr=schedules.one_cycle_lr(
                0.01, pct_start=0.25, three_phase=True, epochs=6, steps_per_epoch=10
            ),
            momentum=schedules.one_cycle_momentum(
                pct_start=0.25,
                three_phase=True,
                epochs=6,
                steps_per_epoch=10,
                base_momentum=0.6,
                max_momentum=0.8,
            ),
        ),
        torch_kwargs=dict(lr=0.01),
        schedulers=_lr_scheduler(
            "OneCycleLR",
            max_lr=0.01,
            pct_start=0.25,
            three_phase=True,
            epochs=6,
            steps_per_epoch=10,
            base_momentum=0.6,
            max_momentum=0.8,
        ),
        text="momentum=0.5, centered=True, OneCycleLR(0.01, epochs=6, steps_per_epoch=10, "
        "pct_start=0.25, three_phase=True, base_momentum=0.6, max_momentum=0.8) with "
        "cycle_momentum=True",
    ),
    TorchCase("asgd", "ASGD", dict(lr=0.05), default_dtype=True),
    TorchCase(
        "asgd-lambd-alpha-t0-wd-maximize",
        "ASGD",
        dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=10.0, weight_decay=0.01, maximize=True),
        default_dtype=True,
    ),
    TorchCase(
        "asgd-t0-steplr",
        "ASGD",
        dict(lambd=1e-2, t0=5.0),
        ("step", 0.05, 10, 0.5),
        default_dtype=True,
    ),
    TorchCase("rprop", "Rprop", dict(lr=0.05)),
    TorchCase(
        "rprop-etas-step_sizes-maximize",
        "Rprop",
        dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True),
    ),
]


@dataclass(frozen=True)
class KerasCase:
    name: str
    preset: str  # the class name, in keras.optimizers and in jopt.compat.keras
    kwargs: dict = field(default_factory=dict)  # Keras names: passed to both sides
    # ("keras_exp", lr, decay_steps, rate): keras ExponentialDecay;
    # ("legacy_decay", lr, decay): jopt's tf.keras 2 ``decay``; keras InverseTimeDecay(lr, 1, decay)
    schedule: tuple | None = None
    jopt_kwargs: dict = field(default_factory=dict)
    keras_kwargs: dict = field(default_factory=dict)
    params: Callable[[], dict[str, np.ndarray]] = init_params
    text: str | None = None
    # A looser bound for float64 where Keras itself does not compute in float64
    # (its row comment gives the reason and the measured error).
    f64_tol: float | None = None
    # build(module) -> more keyword arguments, made from ``module`` (jopt.compat.keras or
    # keras.optimizers): the inner optimizers of LossScaleOptimizer / MultiOptimizer.
    build: Callable[[Any], dict] | None = None
    # perturb(step, grads) -> the gradients both sides get at that step (e.g. an inf).
    perturb: Callable[[int, dict], dict] | None = None

    def describe(self) -> str:
        return describe(self)


def keras_reductions_in_float64(monkeypatch) -> None:
    """Keras' ops.mean and ops.norm (JAX backend) kept in float64 for float64 arrays: Keras
    computes them in float32 (its result_type("float64", "float32") is float32), the one
    reason a few presets (the rows with ``f64_tol``) differ from jopt beyond 1e-10."""
    from keras.src.backend.jax import linalg, numpy

    def mean(x, axis=None, keepdims=False):
        return jnp.mean(jnp.asarray(x), axis=axis, keepdims=keepdims)

    def norm(x, ord=None, axis=None, keepdims=False):
        return jnp.linalg.norm(jnp.asarray(x), ord=ord, axis=axis, keepdims=keepdims)

    monkeypatch.setattr(numpy, "mean", mean)
    monkeypatch.setattr(linalg, "norm", norm)


@contextlib.contextmanager
def _reductions_in_float64(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        keras_reductions_in_float64(patch)
        yield


KERAS_CASES = [
    KerasCase("sgd", "SGD", dict(learning_rate=0.05)),
    KerasCase("sgd-momentum-wd", "SGD", dict(learning_rate=0.05, momentum=0.9, weight_decay=0.01)),
    KerasCase(
        "sgd-nesterov-wd-expdecay",
        "SGD",
        dict(momentum=0.9, nesterov=True, weight_decay=0.01),
        ("keras_exp", 0.05, 10, 0.5),
    ),
    KerasCase("sgd-momentum-legacy-decay", "SGD", dict(momentum=0.9), ("legacy_decay", 0.05, 0.05)),
    KerasCase("adagrad", "Adagrad", dict(learning_rate=0.1)),
    KerasCase(
        "adagrad-init-eps-wd-expdecay",
        "Adagrad",
        dict(initial_accumulator_value=0.2, epsilon=1e-6, weight_decay=0.01),
        ("keras_exp", 0.2, 20, 0.5),
    ),
    KerasCase("rmsprop", "RMSprop", dict(learning_rate=0.01)),
    KerasCase("rmsprop-momentum", "RMSprop", dict(learning_rate=0.005, momentum=0.9)),
    KerasCase(
        "rmsprop-centered-momentum-wd-expdecay",
        "RMSprop",
        dict(rho=0.8, momentum=0.5, centered=True, weight_decay=0.01, epsilon=1e-6),
        ("keras_exp", 0.01, 20, 0.5),
    ),
    KerasCase("adam", "Adam", dict(learning_rate=0.02)),
    KerasCase("adam-eps", "Adam", dict(learning_rate=0.02, epsilon=1e-4)),
    KerasCase(
        "adam-amsgrad-wd-expdecay",
        "Adam",
        dict(beta_1=0.8, beta_2=0.99, amsgrad=True, weight_decay=0.01),
        ("keras_exp", 0.05, 20, 0.5),
    ),
    KerasCase("adamw", "AdamW", dict(learning_rate=0.02)),
    KerasCase(
        "adamw-betas-amsgrad-eps-expdecay",
        "AdamW",
        dict(weight_decay=0.05, beta_1=0.85, beta_2=0.995, amsgrad=True, epsilon=1e-5),
        ("keras_exp", 0.05, 20, 0.5),
    ),
    # Adadelta and the Adam family (issue 15)
    KerasCase("adadelta", "Adadelta", dict(learning_rate=1.0)),
    KerasCase(
        "adadelta-rho-eps-wd-expdecay",
        "Adadelta",
        dict(rho=0.8, epsilon=1e-5, weight_decay=0.01),
        ("keras_exp", 1.0, 20, 0.5),
    ),
    KerasCase("adamax", "Adamax", dict(learning_rate=0.05)),
    KerasCase(
        "adamax-betas-eps-wd-expdecay",
        "Adamax",
        dict(beta_1=0.8, beta_2=0.99, epsilon=1e-4, weight_decay=0.01),
        ("keras_exp", 0.05, 20, 0.5),
    ),
    KerasCase("nadam", "Nadam", dict(learning_rate=0.02)),
    KerasCase(
        "nadam-betas-eps-wd-expdecay",
        "Nadam",
        dict(beta_1=0.85, beta_2=0.99, epsilon=1e-5, weight_decay=0.01),
        ("keras_exp", 0.05, 20, 0.5),
    ),
    # Keras' ops.mean and ops.norm compute in float32 even for float64 variables (Keras'
    # result_type("float64", "float32") is float32), jopt in float64: measured 1.1e-7 and
    # 1.4e-7 (Adafactor's means), 2.4e-9 and 8.7e-10 (Muon's norm). With Keras' two
    # reductions kept in float64 both agree to 2e-15, and so the tests run them
    # (keras_runs(float64_reductions=True), FLOAT32_REDUCTIONS).
    KerasCase("adafactor", "Adafactor", dict(learning_rate=0.5), f64_tol=5e-7),
    KerasCase(
        "adafactor-options-wd-expdecay",
        "Adafactor",
        dict(
            beta_2_decay=-0.6,
            epsilon_1=1e-20,
            epsilon_2=1e-2,
            clip_threshold=1.5,
            relative_step=False,
            weight_decay=0.05,
        ),
        ("keras_exp", 0.5, 20, 0.5),
        params=params_with_tensor,
        f64_tol=5e-7,
    ),
    KerasCase("lion", "Lion", dict(learning_rate=0.015625)),
    KerasCase(
        "lion-betas-wd-expdecay",
        "Lion",
        dict(beta_1=0.8, beta_2=0.9, weight_decay=0.1),
        ("keras_exp", 0.03125, 20, 0.5),
    ),
    KerasCase("lamb", "Lamb", dict(learning_rate=0.015625)),
    KerasCase(
        "lamb-betas-eps-wd-expdecay",
        "Lamb",
        dict(beta_1=0.8, beta_2=0.99, epsilon=1e-5, weight_decay=0.05),
        ("keras_exp", 0.03125, 20, 0.5),
    ),
    KerasCase("muon", "Muon", dict(learning_rate=0.015625), params=muon_params, f64_tol=1e-8),
    KerasCase(
        "muon-options-expdecay",
        "Muon",
        dict(
            adam_beta_1=0.8,
            adam_beta_2=0.99,
            adam_weight_decay=0.01,
            epsilon=1e-5,
            weight_decay=0.02,
            exclude_layers=["out"],
            exclude_embeddings=False,
            muon_a=2.0,
            muon_b=-1.5,
            muon_c=0.5,
            adam_lr_ratio=0.5,
            momentum=0.9,
            ns_steps=3,
            nesterov=False,
            rms_rate=None,
        ),
        ("keras_exp", 0.03125, 20, 0.5),
        params=muon_params,
        f64_tol=1e-8,
    ),
]


# Issue 15: Ftrl, ScheduleFreeAdamW, LossScaleOptimizer, MultiOptimizer.
def _overflow(step, grads: dict) -> dict:
    """Non-finite gradients at steps 10, 11 (inf) and 30 (NaN): LossScaleOptimizer skips.
    ``step`` is traced (jopt's run is one scan)."""
    w, b = grads["w"], grads["b"]
    w = jnp.where((step == 10) | (step == 11), w.at[0, 0].set(jnp.inf), w)
    b = jnp.where(step == 30, b.at[1].set(jnp.nan), b)
    return {**grads, "w": w, "b": b}


KERAS_CASES += [
    KerasCase("ftrl", "Ftrl", dict(learning_rate=0.25)),
    KerasCase(
        "ftrl-l1-l2-shrinkage-beta-power-wd-expdecay",
        "Ftrl",
        dict(
            learning_rate_power=-0.25,
            initial_accumulator_value=0.25,
            l1_regularization_strength=0.015625,
            l2_regularization_strength=0.0625,
            l2_shrinkage_regularization_strength=0.03125,
            beta=0.5,
            weight_decay=0.0078125,
        ),
        ("keras_exp", 0.25, 20, 0.5),
    ),
    KerasCase("schedulefree", "ScheduleFreeAdamW", dict(learning_rate=0.03125)),
    KerasCase(
        "schedulefree-betas-eps-warmup-wd-expdecay",
        "ScheduleFreeAdamW",
        dict(beta_1=0.8, beta_2=0.99, epsilon=1e-6, warmup_steps=10, weight_decay=0.0625),
        ("keras_exp", 0.0625, 20, 0.5),
    ),
    KerasCase(
        "lossscale-adam-skips-nonfinite",
        "LossScaleOptimizer",
        dict(initial_scale=4.0, dynamic_growth_steps=8),
        build=lambda m: dict(inner_optimizer=m.Adam(learning_rate=0.015625, loss_scale_factor=8.0)),
        perturb=_overflow,
        text="Adam(0.015625, loss_scale_factor=8 (ignored)), initial_scale=4, "
        "dynamic_growth_steps=8, inf/NaN gradients at steps 10, 11, 30",
    ),
    KerasCase(
        "multi-sgd-adam-rmsprop-loss_scale_factor",
        "MultiOptimizer",
        dict(loss_scale_factor=2.0),
        build=lambda m: dict(
            optimizer_map=m.OptimizerMap(
                m.SGD(learning_rate=0.03125, momentum=0.5),
                {"b": m.Adam(learning_rate=0.015625, use_ema=True), "s|x": m.RMSprop(0.0078125)},
            )
        ),
        text="OptimizerMap(SGD(momentum=0.5), {'b': Adam(use_ema=True), 's|x': RMSprop}), "
        "loss_scale_factor=2",
    ),
]


# Keras reduces float64 arrays in float32 in these presets (ops.mean, ops.norm): the cases
# with an f64_tol. The tests keep those reductions in float64 (keras_runs).
FLOAT32_REDUCTIONS = {c.preset for c in KERAS_CASES if c.f64_tol is not None}


# ------------------------------------ Keras' base options (tests/compat/keras/test_options.py)


def option_presets() -> list[str]:
    """The presets that take Keras' base options, found by introspection (every factory
    whose signature spells them out), so that presets added later are covered."""
    from jopt.compat.keras._common import OPTION_DEFAULTS

    found = []
    for name in jk.__all__:
        factory = getattr(jk, name)
        if not callable(factory) or name == "KerasOptions":
            continue
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            continue
        if set(OPTION_DEFAULTS) <= set(parameters):
            found.append(name)
    return found


LR = 0.015625  # exact in binary: Keras' float32 learning-rate variable adds no rounding
# Every option at once: accumulation (with a schedule over the calls), global clipping,
# decay with an exclusion, the loss-scale division and the EMA with its overwrite.
ALL_OPTIONS = dict(
    gradient_accumulation_steps=2,
    global_clipnorm=1.0,
    weight_decay=0.0625,
    exclude_from_weight_decay="b",
    use_ema=True,
    ema_momentum=0.75,
    ema_overwrite_frequency=5,
    loss_scale_factor=4.0,
)


def all_options(preset: str) -> KerasCase:
    return KerasCase(f"{preset}-all-options", preset, ALL_OPTIONS, ("keras_exp", LR, 10, 0.5))


def _keras_exponential_decay(module) -> dict:
    import keras  # the Keras schedule object, handed to jopt too

    del module
    return dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.0625, 10, 0.5))


# The other options, combined so that each is exercised: per-leaf and per-value clipping,
# an exclusion list, the EMA with and without its overwrite (also under accumulation, where
# the EMA steps at every call, its first n calls copy θ, and the overwrite fires on every
# call of an iteration divisible by the frequency, iterations = calls // n), a function of
# no arguments and a Keras schedule object as the learning rate, a jopt schedule over the
# calls.
COMBINATIONS: dict[str, tuple[dict, Callable[[Any], dict] | None]] = {
    "clipnorm-wd-exclude-list-ema": (
        dict(
            clipnorm=0.5, weight_decay=0.0625, exclude_from_weight_decay=["b", "^s$"], use_ema=True
        ),
        None,
    ),
    "clipvalue-ema-overwrite-loss_scale_factor": (
        dict(
            clipvalue=0.25,
            use_ema=True,
            ema_momentum=0.75,
            ema_overwrite_frequency=4,
            loss_scale_factor=3.0,
        ),
        None,
    ),
    "accumulation-ema-overwrite-lr-zero-argument-callable": (
        dict(
            gradient_accumulation_steps=3,
            use_ema=True,
            ema_momentum=0.5,
            ema_overwrite_frequency=2,
            learning_rate=lambda: LR,
        ),
        None,
    ),
    "lr-keras-schedule-object-accumulation": (
        dict(gradient_accumulation_steps=2),
        _keras_exponential_decay,
    ),
}


def combinations(preset: str, extra: dict) -> list[KerasCase]:
    cases = [
        KerasCase(f"{preset}-{k}", preset, {"learning_rate": LR, **extra, **v}, build=build)
        for k, (v, build) in COMBINATIONS.items()
    ]
    # a jopt schedule count -> lr against Keras' ExponentialDecay, over the calls
    cases.append(
        KerasCase(
            f"{preset}-lr-schedule-accumulation",
            preset,
            dict(extra, gradient_accumulation_steps=3),
            ("keras_exp", 0.0625, 10, 0.5),
        )
    )
    return cases


# All options on every preset (float64; float32: the options' dtype handling is the same
# code around every preset, and each preset's own float32 is checked by its cases), the
# combinations on Adam and SGD (Keras' lr-inside momentum buffer).
KERAS_OPTION_CASES = (
    [all_options(p) for p in option_presets()]
    + combinations("Adam", {})
    + combinations("SGD", dict(momentum=0.5))
)
OPTIONS_FLOAT32 = ("SGD", "Adam")


# -------------------- the wrappers around a wrapped preset (tests/compat/keras/test_*.py)
# Keras' LossScaleOptimizer and MultiOptimizer replace their inner optimizers' own
# loss_scale_factor with theirs (the dynamic scale; the MultiOptimizer's factor), whatever
# holds the inner preset: here optax.inject_hyperparams and optax.chain. The inner SGD with
# momentum has no scale invariance that could hide a factor.
WRAPPED_INNER = dict(learning_rate=0.25, momentum=0.5, loss_scale_factor=8.0)
WRAPS: dict[str, Callable[[Callable[..., Any], dict], Any]] = {
    "inject_hyperparams": lambda factory, kw: optax.inject_hyperparams(factory)(**kw),
    "chain": lambda factory, kw: optax.chain(optax.identity(), factory(**kw)),
    "inject_hyperparams-in-chain": lambda factory, kw: optax.chain(
        optax.inject_hyperparams(factory)(**kw)
    ),
}


def _lso_inner(wrap: str) -> Callable[[Any], dict]:
    def build(module) -> dict:
        if module is jk:
            return dict(inner_optimizer=WRAPS[wrap](jk.SGD, WRAPPED_INNER))
        return dict(inner_optimizer=module.SGD(**WRAPPED_INNER))

    return build


def _multi_members(wrap_default: str | None, wrap_member: str) -> Callable[[Any], dict]:
    sgd = dict(learning_rate=0.03125, momentum=0.5, loss_scale_factor=3.0)
    adam = dict(learning_rate=LR, use_ema=True, loss_scale_factor=5.0)

    def build(module) -> dict:
        if module is jk:
            default = jk.SGD(**sgd) if wrap_default is None else WRAPS[wrap_default](jk.SGD, sgd)
            member = WRAPS[wrap_member](jk.Adam, adam)
        else:
            default, member = module.SGD(**sgd), module.Adam(**adam)
        return dict(optimizer_map=module.OptimizerMap(default, {"b": member}))

    return build


KERAS_WRAPPED_CASES = [
    KerasCase(
        f"lossscale-{wrap}",
        "LossScaleOptimizer",
        dict(initial_scale=4.0, dynamic_growth_steps=8),
        build=_lso_inner(wrap),
        perturb=_overflow,
    )
    for wrap in ("inject_hyperparams", "chain")
] + [
    KerasCase(
        "multi-chain-and-inject_hyperparams",
        "MultiOptimizer",
        dict(loss_scale_factor=2.0),
        build=_multi_members("chain", "inject_hyperparams"),
    ),
    KerasCase(
        "multi-inject_hyperparams-in-chain",
        "MultiOptimizer",
        dict(loss_scale_factor=2.0),
        build=_multi_members(None, "inject_hyperparams-in-chain"),
    ),
]


# ------------------------------------------------------------------------------- runners
#
# A run is (case, dtype). jopt's side of a run is computed first and whole: the gradient of
# each step is taken at jopt's parameters, and nothing the reference does feeds back into
# it. Several runs are compiled together, in one program (one lax.scan each): compiling
# costs far more than the steps, and one program of n runs compiles in about half the time
# of n programs. The reference is then fed the gradients jopt recorded: torch step by step
# (a step costs microseconds), Keras through its stateless_apply scanned over the steps,
# its runs compiled together too.

Pair = tuple[Any, Any]  # (case, dtype)


def jopt_trajectories(
    runs: list[tuple[optax.GradientTransformation, dict[str, np.ndarray], Any, float, Any]],
    steps: int,
) -> list[tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]]:
    """For each run ``(tx, params0, dtype, sign, perturb)``: jopt's parameters after each of
    ``steps`` updates (a list of dicts of float64 NumPy arrays) and the gradients it was fed
    (a dict of arrays in ``dtype`` with a leading step axis). Each update descends
    ``sign ·`` :func:`loss_jnp` (:func:`gradient`); ``perturb(step, grads)``, if not None, replaces the gradients of each
    step (``step`` is traced). All runs are one compiled program."""
    starts = [
        {k: jnp.asarray(v, dtype) for k, v in params0.items()} for _, params0, dtype, _, _ in runs
    ]

    def trajectory(run, params):
        tx, _, _, sign, perturb = run

        def step(carry, i):
            params, state = carry
            grads = gradient(params, sign)
            if perturb is not None:
                grads = perturb(i, grads)
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            return (params, state), (params, grads)

        return jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))[1]

    @jax.jit
    def all_runs(starts):
        return [trajectory(run, start) for run, start in zip(runs, starts, strict=True)]

    out = []
    for path, grads in jax.device_get(all_runs(starts)):
        path = {k: np.asarray(v, np.float64) for k, v in path.items()}
        ours = [{k: v[i] for k, v in path.items()} for i in range(steps)]
        out.append((ours, {k: np.asarray(v) for k, v in grads.items()}))
    return out


def jopt_torch(case: TorchCase):
    kwargs = dict(case.kwargs)
    if case.schedule is not None:
        kwargs["lr"] = jopt_schedule(case.schedule)
    kwargs.update(case.jopt_kwargs)
    return getattr(jt, case.preset)(**kwargs)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one thread inside: its steps on these tiny tensors are serial work, and
    its thread pool spins on a busy machine (Muon's Newton–Schulz: 3 ms a call with two
    threads, 0.07 ms with one)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def torch_trajectory(
    case: TorchCase, dtype, params0: dict[str, np.ndarray], grads: dict[str, np.ndarray]
) -> list[dict[str, np.ndarray]]:
    """``torch.optim.<preset>`` (and its schedulers) stepped on ``grads`` (a leading step
    axis): its parameters after each step, as float64 NumPy arrays."""
    import torch

    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    params = {
        k: torch.tensor(np.asarray(v, dtype), dtype=tdtype, requires_grad=True)
        for k, v in params0.items()
    }
    kwargs = dict(case.kwargs)
    schedulers: list = []
    if case.schedule is not None:
        kwargs["lr"] = case.schedule[1]
    kwargs.update(case.torch_kwargs)
    cls = getattr(torch.optim, case.preset)
    # A preset that adds ``maximize`` where torch has none (Muon): torch gets −g instead.
    negate = "maximize" not in inspect.signature(cls).parameters and kwargs.pop("maximize", False)
    opt = cls(list(params.values()), **kwargs)
    if case.schedule is not None:
        kind, _, *args = case.schedule
        if kind == "step":
            schedulers.append(torch.optim.lr_scheduler.StepLR(opt, args[0], gamma=args[1]))
        else:
            schedulers.append(torch.optim.lr_scheduler.ExponentialLR(opt, gamma=args[0]))
    if case.schedulers is not None:
        schedulers.extend(case.schedulers(opt))
    out = []
    default = torch.get_default_dtype()
    with one_torch_thread():
        for i in range(len(next(iter(grads.values())))):
            for k, p in params.items():
                g = np.array(grads[k][i], dtype=dtype)
                p.grad = torch.from_numpy(-g if negate else g)
            if case.default_dtype:
                torch.set_default_dtype(tdtype)
            try:
                opt.step()
            finally:
                torch.set_default_dtype(default)
            for sched in schedulers:
                sched.step()
            out.append({k: v.detach().numpy().astype(np.float64) for k, v in params.items()})
    return out


def jopt_keras(case: KerasCase):
    kwargs = dict(case.kwargs)
    if case.schedule is not None:
        kind, base, *args = case.schedule
        if kind == "legacy_decay":
            kwargs.update(learning_rate=base, decay=args[0])
        else:
            kwargs["learning_rate"] = jopt_schedule(case.schedule)
    kwargs.update(case.jopt_kwargs)
    if case.build is not None:
        kwargs.update(case.build(jk))
    return getattr(jk, case.preset)(**kwargs)


@contextlib.contextmanager
def floatx(dtype) -> Iterator[None]:
    """Keras' floatx (so its learning-rate variable's dtype) set to ``dtype`` inside."""
    import keras

    before = keras.config.floatx()
    keras.config.set_floatx(np.dtype(dtype).name)
    try:
        yield
    finally:
        keras.config.set_floatx(before)


def keras_optimizer(case: KerasCase, dtype, params0: dict[str, np.ndarray]):
    """``keras.optimizers.<preset>`` with the case's arguments, built on Keras variables
    of ``params0`` in ``dtype``, floatx (so its learning-rate variable) in ``dtype`` too:
    (optimizer, variables)."""
    import keras

    with floatx(dtype):
        variables = [
            keras.Variable(np.asarray(v, dtype), name=k, dtype=np.dtype(dtype).name)
            for k, v in params0.items()
        ]
        kwargs = dict(case.kwargs)
        if case.schedule is not None:
            kind, base, *args = case.schedule
            if kind == "legacy_decay":
                kwargs["learning_rate"] = keras.optimizers.schedules.InverseTimeDecay(
                    base, 1, args[0]
                )
            else:
                kwargs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(base, *args)
        kwargs.update(case.keras_kwargs)
        if case.build is not None:
            kwargs.update(case.build(keras.optimizers))
        # jopt's argument for Keras' method optimizer.exclude_from_weight_decay(var_names=)
        exclude = kwargs.pop("exclude_from_weight_decay", None)
        opt = getattr(keras.optimizers, case.preset)(**kwargs)
        if exclude is not None:
            opt.exclude_from_weight_decay(var_names=exclude)
        opt.build(variables)
    return opt, variables


def keras_trajectories(
    runs: list[tuple[Any, Any, list, Any, dict[str, np.ndarray], bool]],
) -> list[list[dict[str, np.ndarray]]]:
    """For each run ``(optimizer, dtype, variables, names, grads, float64_reductions)``
    (from :func:`keras_optimizer`; ``grads`` with a leading step axis): the parameters after
    each step as float64 NumPy arrays. Keras steps through its ``stateless_apply``
    (``model.fit``'s path on JAX) scanned over the steps, all runs one compiled program.
    (Keras' eager ``apply_gradients`` costs 15–50 ms a step, and its LossScaleOptimizer's
    leaks a tracer on the JAX backend.) ``float64_reductions``: Keras' means and norms kept
    in float64 (:func:`keras_reductions_in_float64`) while that run is traced."""

    def trajectory(opt, dtype, reductions, opt_values, values, grads):
        def step(carry, g):
            opt_values, values = carry
            values, opt_values = opt.stateless_apply(opt_values, g, values)
            return (opt_values, values), values

        with floatx(dtype), _reductions_in_float64(reductions):  # read while tracing
            return jax.lax.scan(step, (opt_values, values), grads)[1]

    @jax.jit
    def all_runs(inputs):
        return [
            trajectory(opt, dtype, reductions, *x)
            for (opt, dtype, _, _, _, reductions), x in zip(runs, inputs, strict=True)
        ]

    inputs = [
        (
            [v.value for v in opt.variables],
            [v.value for v in variables],
            [jnp.asarray(grads[k]) for k in names],
        )
        for opt, _, variables, names, grads, _ in runs
    ]
    # Keras mixes dtypes (its EMA overwrite multiplies floats by int32 flags, its Muon's
    # ops.norm is float32): the reference runs under standard promotion.
    with jax.numpy_dtype_promotion("standard"):
        paths = jax.device_get(all_runs(inputs))
    return [
        [{k: np.asarray(path[j][i], np.float64) for j, k in enumerate(names)} for i in range(n)]
        for path, (_, _, _, names, grads, _) in zip(paths, runs, strict=True)
        for n in [len(grads[names[0]])]
    ]


def errors(actual, expected) -> tuple[float, float]:
    """(max abs error, max relative error) over steps and leaves; rel = abs / max|expected|.

    A non-finite value counts only where both sides have the same one (e.g. a step both
    libraries skip); anywhere else the error is inf, so a NaN on either side never hides.
    """
    max_abs = max_rel = 0.0
    for a_step, e_step in zip(actual, expected, strict=True):
        for k in e_step:
            a, e = np.asarray(a_step[k]), np.asarray(e_step[k])
            finite = np.isfinite(e)
            if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(
                a[~finite], e[~finite], equal_nan=True
            ):
                return float("inf"), float("inf")
            if not finite.any():
                continue
            a, e = a[finite], e[finite]
            err = float(np.max(np.abs(a - e)))
            max_abs = max(max_abs, err)
            max_rel = max(max_rel, err / max(float(np.max(np.abs(e))), np.finfo(float).tiny))
    return max_abs, max_rel


def torch_runs(pairs: list[Pair], steps: int = STEPS) -> dict[tuple[str, str], tuple]:
    """(max abs error, max rel error, the bound on rel) of each (case, dtype), keyed by
    (case name, dtype name)."""
    starts = [case.params() for case, _ in pairs]
    ours = jopt_trajectories(
        [
            (jopt_torch(case), p0, dtype, case.sign, case.perturb)
            for (case, dtype), p0 in zip(pairs, starts, strict=True)
        ],
        steps,
    )
    return {
        (case.name, np.dtype(dtype).name): (
            *errors(path, torch_trajectory(case, dtype, p0, grads)),
            tolerance(case, dtype),
        )
        for (case, dtype), p0, (path, grads) in zip(pairs, starts, ours, strict=True)
    }


def keras_runs(
    pairs: list[Pair], steps: int = STEPS, float64_reductions: bool = False
) -> dict[tuple[str, str], tuple]:
    """(max abs error, max rel error, the bound on rel) of each (case, dtype), keyed by
    (case name, dtype name). ``float64_reductions``: the float64 runs of the presets whose
    Keras reduces in float32 (:data:`FLOAT32_REDUCTIONS`) keep Keras' reductions in float64
    and are held to the lockstep bound, not to their case's ``f64_tol``."""
    starts = [case.params() for case, _ in pairs]
    ours = jopt_trajectories(
        [
            (jopt_keras(case), p0, dtype, 1.0, case.perturb)
            for (case, dtype), p0 in zip(pairs, starts, strict=True)
        ],
        steps,
    )
    references, bounds = [], []
    for (case, dtype), p0, (_, grads) in zip(pairs, starts, ours, strict=True):
        opt, variables = keras_optimizer(case, dtype, p0)
        patched = float64_reductions and dtype is np.float64 and case.preset in FLOAT32_REDUCTIONS
        references.append((opt, dtype, variables, list(p0), grads, patched))
        bounds.append(tol("lockstep", dtype) if patched else tolerance(case, dtype))
    theirs = keras_trajectories(references)
    return {
        (case.name, np.dtype(dtype).name): (*errors(path, ref), bound)
        for (case, dtype), (path, _), ref, bound in zip(pairs, ours, theirs, bounds, strict=True)
    }


def torch_errors(case: TorchCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    """(max abs error, max rel error) of one run."""
    return torch_runs([(case, dtype)], steps)[case.name, np.dtype(dtype).name][:2]


def keras_errors(case: KerasCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    """(max abs error, max rel error) of one run (against Keras as it is)."""
    return keras_runs([(case, dtype)], steps)[case.name, np.dtype(dtype).name][:2]


# --------------------------------------------------------------- the tests' selections


def module_of(preset: Any) -> str:
    """The jopt module that defines a preset, without its package and underscore
    (``jopt.compat.torch._adam`` → ``"adam"``): its test file is ``test_<that>.py``."""
    return preset.__module__.rsplit(".", 1)[1].lstrip("_")


def torch_cases(module: str) -> list[TorchCase]:
    """The cases of the presets ``jopt.compat.torch._<module>`` defines."""
    return [c for c in TORCH_CASES if module_of(getattr(jt, c.preset)) == module]


def keras_cases(module: str) -> list[KerasCase]:
    """The cases of the presets ``jopt.compat.keras._<module>`` defines."""
    return [c for c in KERAS_CASES if module_of(getattr(jk, c.preset)) == module]


def _options(case) -> int:
    return (
        len({**case.kwargs, **case.jopt_kwargs})
        + (case.schedule is not None)
        + bool(getattr(case, "schedulers", None) or getattr(case, "build", None))
    )


def _module(case) -> str:
    return module_of(getattr(jt if isinstance(case, TorchCase) else jk, case.preset))


def runs_of(cases: list) -> tuple[list[Pair], list[Pair]]:
    """The runs of these cases, one trajectory per case and dtype: every case in float64
    (the 1e-10 bound, which checks the formulas), and in float32 the case with the most
    options of each preset module (float32 checks the dtype handling of the assembly and
    the primitives, which the registry's contract tests check on every preset too; its
    2e-5 bound checks no formula that float64 does not). Split in two: the first case of
    each preset in float64 (the inner loop), and the rest."""
    quick: list[Pair] = []
    rest: list[Pair] = []
    richest: dict[str, Any] = {}
    for case in cases:
        module = _module(case)
        if module not in richest or _options(case) > _options(richest[module]):
            richest[module] = case
        if not any(c.preset == case.preset for c, _ in quick):
            quick.append((case, np.float64))
        else:
            rest.append((case, np.float64))
    rest += [(case, np.float32) for case in richest.values()]
    return quick, rest


# The runs of the tests (tests/compat/conftest.py computes each list in one program; each
# test file checks the runs of its presets, select()): the inner loop's, and the rest.
TORCH_QUICK, TORCH_SLOW = runs_of(TORCH_CASES)
KERAS_QUICK, KERAS_SLOW = runs_of(KERAS_CASES)
KERAS_QUICK += [(KERAS_OPTION_CASES[option_presets().index("Adam")], np.float64)]
KERAS_SLOW += (
    [(c, np.float64) for c in KERAS_OPTION_CASES if (c, np.float64) not in KERAS_QUICK]
    + [(all_options(p), np.float32) for p in OPTIONS_FLOAT32]
    + [(c, np.float64) for c in KERAS_WRAPPED_CASES]
)


def select(pairs: list[Pair], cases: list) -> list[Pair]:
    """The runs of ``pairs`` whose case is one of ``cases``."""
    return [(c, d) for c, d in pairs if any(c is x or c == x for x in cases)]


def ids(pairs: list[Pair]) -> list[str]:
    return [f"{case.name}-{np.dtype(dtype).name}" for case, dtype in pairs]


def check(results: dict[tuple[str, str], tuple], case, dtype, steps: int = STEPS) -> None:
    """Fails unless the run (case, dtype) of ``results`` (:func:`torch_runs`,
    :func:`keras_runs`) stayed within its bound."""
    max_abs, max_rel, bound = results[case.name, np.dtype(dtype).name]
    assert max_rel <= bound, (
        f"{case.name} ({np.dtype(dtype).name}, {steps} steps): max rel err {max_rel:.3g} "
        f"(bound {bound:g}), max abs err {max_abs:.3g}"
    )


# ------------------------------------------------------------- checks against the library


def raises_like_torch(name: str, kwargs: dict) -> None:
    """``torch.optim.<name>(**kwargs)`` and ``jopt.compat.torch.<name>(**kwargs)`` both raise
    a ValueError, ours named ``jopt.compat.torch.<name>: `` and holding torch's message."""
    import pytest
    import torch

    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(jt, name)(**kwargs)
    assert str(ours.value).startswith(f"jopt.compat.torch.{name}: ")
    assert str(theirs.value) in str(ours.value)


def raises_like_keras(name: str, kwargs: dict, error: type = ValueError, args=()) -> None:
    """``keras.optimizers.<name>(*args(keras.optimizers), **kwargs)`` and the jopt preset
    (``args(jopt.compat.keras)``) both raise ``error``, ours named
    ``jopt.compat.keras.<name>: `` and holding Keras' message."""
    import keras
    import pytest

    with pytest.raises(error) as theirs:
        getattr(keras.optimizers, name)(*(args(keras.optimizers) if args else ()), **kwargs)
    with pytest.raises(error) as ours:
        getattr(jk, name)(*(args(jk) if args else ()), **kwargs)
    assert str(ours.value).startswith(f"jopt.compat.keras.{name}: ")
    assert str(theirs.value).rstrip(".") in str(ours.value)


def args_entry(fn: Any, name: str) -> str:
    """The entry of parameter ``name`` in the ``Args:`` section of ``fn``'s docstring (its
    lines joined), or "" if there is none."""
    lines = inspect.cleandoc(fn.__doc__ or "").splitlines()
    try:
        start = lines.index("Args:") + 1
    except ValueError:
        return ""
    entry: list[str] = []
    for line in lines[start:]:
        if not line.startswith("  "):  # the end of the section
            break
        text = line.strip()
        if line.startswith("  ") and not line.startswith("    "):  # a parameter's first line
            if entry:
                break
            if text.startswith(f"{name}:"):
                entry.append(text)
        elif entry:
            entry.append(text)
    return " ".join(entry)


def readme_block(heading: str) -> str:
    """The first python block of a section of the README (its ``heading`` line)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert found is not None, f"no python block under {heading!r}"
    return found.group(1)


# ------------------------------------------------------ Keras' state, read through jopt


def keras_run(name, kwargs, steps, grads_of, wrap=None):
    """Runs keras.optimizers.<name>(**kwargs) (wrapped in ``wrap``) on
    :func:`init_params` for ``steps`` steps of ``grads_of(step, params)`` (float64, its
    jitted ``stateless_apply``): (the optimizer, its variables)."""
    import keras

    with floatx(np.float64):
        variables = [
            keras.Variable(np.asarray(v), name=k, dtype="float64") for k, v in init_params().items()
        ]
        opt = getattr(keras.optimizers, name)(**kwargs)
        if wrap is not None:
            opt = wrap(opt)
        opt.build(variables)
        apply = jax.jit(opt.stateless_apply)
        with jax.numpy_dtype_promotion("standard"):
            for i in range(steps):
                params = {v.name: v.value for v in variables}
                grads = [grads_of(i, params)[v.name] for v in variables]
                new, state = apply(
                    [v.value for v in opt.variables], grads, [v.value for v in variables]
                )
                for v, value in zip(variables + opt.variables, new + state, strict=True):
                    v.assign(value)
    return opt, variables


def jopt_run(tx, steps, grads_of):
    """``tx`` on :func:`init_params` (float64) for ``steps`` jitted steps of
    ``grads_of(step, params)``: (its state, the parameters)."""
    params = {k: jnp.asarray(v) for k, v in init_params().items()}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for i in range(steps):
        updates, state = update(grads_of(i, params), state, params)
        params = optax.apply_updates(params, updates)
    return state, params


def grads_of(step, params):
    """The gradient of :func:`loss_jnp` at ``params`` (for :func:`keras_run`, :func:`jopt_run`)."""
    del step
    return gradient({k: jnp.asarray(v) for k, v in params.items()})


def golden(tx) -> list[np.ndarray]:
    """Keras' ``test_correctness_with_golden`` protocol (keras/src/optimizers/*_test.py):
    x = 1 (10 float32 entries), one step on g = 0.01, then x before each of five steps on
    g = 0.1, 0.2, …, 1.0; the five rows to compare with Keras' golden values."""
    x = jnp.ones(10, jnp.float32)
    grads = jnp.arange(0.1, 1.1, 0.1, dtype=jnp.float32)[:10]
    state = tx.init(x)
    updates, state = tx.update(jnp.full(10, 0.01, jnp.float32), state, x)
    x = optax.apply_updates(x, updates)
    rows = []
    for _ in range(5):
        rows.append(np.asarray(x))
        updates, state = tx.update(grads, state, x)
        x = optax.apply_updates(x, updates)
    return rows


def single_step(tx, scale: float = 1.0) -> np.ndarray:
    """Keras' ``test_single_step``: x = [1, 2, 3, 4] (float32) after one step on
    g = [1, 6, 7, 2] · ``scale``."""
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0], jnp.float32)
    grads = jnp.asarray([1.0, 6.0, 7.0, 2.0], jnp.float32) * scale
    return np.asarray(optax.apply_updates(x, tx.update(grads, tx.init(x), x)[0]))
