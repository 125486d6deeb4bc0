"""Parity harness: jopt.compat presets against the real torch.optim and keras.optimizers.

Used by tests/test_compat_torch.py, tests/test_compat_keras.py and docs/make_parity.py
(which writes docs/parity.md), so the tests and the table run the same configurations.

Lockstep: every step, the gradient of one loss is taken once, at jopt's current
parameters, and the same arrays are handed to both optimizers (torch: ``p.grad``; Keras:
``apply_gradients``). Only the optimizers' own arithmetic can then make the parameter
trajectories differ. (Each library taking its own gradient at its own parameters lets a
last-bit difference in the gradient, an FMA under jit, grow to 1e-3 wherever RMSprop-
or Adam-like steps turn sign-like near an exactly zero gradient.) The error of a leaf at
a step is max|θ_jopt − θ_ref| (abs) and that divided by max|θ_ref| (rel); a run's error
is the maximum over leaves and steps.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt.compat.keras as jk
import jopt.compat.torch as jt
import jopt.schedules as schedules

STEPS = 60
# The relative error the parity tests and docs/parity.md allow (a case's f64_tol overrides
# float64's where the other library itself computes in float32).
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def tolerance(case, dtype) -> float:
    f64_tol = getattr(case, "f64_tol", None)
    return f64_tol if dtype is np.float64 and f64_tol is not None else TOL[dtype]


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
    # Step Keras with a jitted optimizer.stateless_apply (model.fit's path on JAX): its
    # LossScaleOptimizer's stateful apply leaks a tracer on the JAX backend, and eager
    # EMA / accumulation steps compile their lax.cond at every call (~1 s a step).
    stateless: bool = False

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
    # reductions kept in float64 both agree to 2e-15:
    # test_compat_keras.py::test_float64_gap_is_keras_float32_reductions.
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
def _overflow(step: int, grads: dict) -> dict:
    """Non-finite gradients at steps 10, 11 (inf) and 30 (NaN): LossScaleOptimizer skips."""
    if step in (10, 11):
        return {**grads, "w": grads["w"].at[0, 0].set(jnp.inf)}
    if step == 30:
        return {**grads, "b": grads["b"].at[1].set(jnp.nan)}
    return grads


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
        stateless=True,
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


# ------------------------------------------------------------------------------- runners


def lockstep(
    tx: optax.GradientTransformation,
    reference_step: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    params0: dict[str, np.ndarray],
    dtype,
    steps: int,
    sign: float = 1.0,
    loss: Callable = loss_jnp,
    perturb: Callable[[int, dict], dict] | None = None,
):
    """Both trajectories (lists of dicts of float64 NumPy arrays), fed the same gradients.

    ``reference_step(grads)`` applies the reference optimizer to the NumPy gradients
    (in ``dtype``) and returns its parameters after the step. ``perturb(step, grads)``,
    if given, replaces the gradients both get at each step.
    """
    params = {k: jnp.asarray(v, dtype) for k, v in params0.items()}
    grad_fn = jax.jit(jax.grad(loss), static_argnums=1)
    update = jax.jit(lambda g, s, p: tx.update(g, s, p))
    state, ours, theirs = tx.init(params), [], []
    for i in range(steps):
        grads = grad_fn(params, sign)
        if perturb is not None:
            grads = perturb(i, grads)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        ours.append({k: np.asarray(v, np.float64) for k, v in params.items()})
        ref = reference_step({k: np.asarray(v, dtype) for k, v in grads.items()})
        theirs.append({k: np.array(v, np.float64) for k, v in ref.items()})
    return ours, theirs


def jopt_torch(case: TorchCase):
    kwargs = dict(case.kwargs)
    if case.schedule is not None:
        kwargs["lr"] = jopt_schedule(case.schedule)
    kwargs.update(case.jopt_kwargs)
    return getattr(jt, case.preset)(**kwargs)


def torch_stepper(case: TorchCase, dtype, params0: dict[str, np.ndarray]):
    """A function grads -> params that steps ``torch.optim.<preset>`` (and its schedulers)."""
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

    def step(grads):
        for k, p in params.items():
            p.grad = torch.from_numpy(np.array(-grads[k] if negate else grads[k], dtype=dtype))
        default = torch.get_default_dtype()
        if case.default_dtype:
            torch.set_default_dtype(tdtype)
        try:
            opt.step()
        finally:
            torch.set_default_dtype(default)
        for sched in schedulers:
            sched.step()
        return {k: v.detach().numpy().copy() for k, v in params.items()}

    return step


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


def keras_stepper(case: KerasCase, dtype, params0: dict[str, np.ndarray]):
    """A function grads -> params that steps ``keras.optimizers.<preset>`` (JAX backend),
    its variables and floatx (so its learning-rate variable) in ``dtype``."""
    import keras

    names = list(params0)
    floatx = keras.config.floatx()
    keras.config.set_floatx(np.dtype(dtype).name)
    try:
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
        stateless_apply = jax.jit(opt.stateless_apply)
    finally:
        keras.config.set_floatx(floatx)

    def step(grads):
        keras.config.set_floatx(np.dtype(dtype).name)
        try:
            # Keras mixes dtypes (its EMA overwrite multiplies floats by int32 flags, its
            # Muon's ops.norm is float32): the reference runs under standard promotion.
            with jax.numpy_dtype_promotion("standard"):
                if case.stateless:
                    new_params, new_state = stateless_apply(
                        [v.value for v in opt.variables],
                        [jnp.asarray(grads[k]) for k in names],
                        [v.value for v in variables],
                    )
                    for v, value in zip(
                        variables + opt.variables, new_params + new_state, strict=True
                    ):
                        v.assign(value)
                else:
                    opt.apply_gradients(
                        [(jnp.asarray(grads[k]), v) for k, v in zip(names, variables, strict=True)]
                    )
        finally:
            keras.config.set_floatx(floatx)
        return {k: np.asarray(v.value) for k, v in zip(names, variables, strict=True)}

    return step


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


def torch_errors(case: TorchCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    params0 = case.params()
    ours, theirs = lockstep(
        jopt_torch(case),
        torch_stepper(case, dtype, params0),
        params0,
        dtype,
        steps,
        case.sign,
        perturb=case.perturb,
    )
    return errors(ours, theirs)


def keras_errors(case: KerasCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    params0 = case.params()
    ours, theirs = lockstep(
        jopt_keras(case),
        keras_stepper(case, dtype, params0),
        params0,
        dtype,
        steps,
        perturb=case.perturb,
    )
    return errors(ours, theirs)
