"""Parity harness: jopt.compat presets against the real torch.optim and keras.optimizers.

Used by tests/test_compat_torch.py, tests/test_compat_keras.py and docs/make_parity.py
(which writes docs/parity.md), so the tests and the table run the same configurations.

Both sides start from the same NumPy parameters, evaluate the same loss written in
their own framework, take their own gradients from their own parameters and step
their own optimizer; only the parameter trajectories are compared. The error of a
leaf at a step is max|θ_jopt − θ_ref| (abs) and that divided by max|θ_ref| (rel);
a run's error is the maximum over leaves and steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt.compat.keras as jk
import jopt.compat.torch as jt

STEPS = 60
CURVATURE = {"w": 1.0, "b": 2.0, "s": 0.5}  # per-leaf curvature of the quadratic term


def init_params() -> dict[str, np.ndarray]:
    """A pytree of several shapes, including a scalar (float64 NumPy)."""
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=(4,)),
        "s": np.asarray(1.2),
    }


def loss_jnp(params, sign=1.0):
    """Σ_leaves Σ [a/2 (x − 1)² + 0.3 sin(2x) + 0.1 log(1 + x²)], times ``sign``."""
    total = 0.0
    for k, x in params.items():
        total = total + jnp.sum(
            0.5 * CURVATURE[k] * (x - 1.0) ** 2 + 0.3 * jnp.sin(2.0 * x) + 0.1 * jnp.log1p(x * x)
        )
    return sign * total


def loss_torch(params, sign=1.0):
    import torch

    total = 0.0
    for k, x in params.items():
        total = total + torch.sum(
            0.5 * CURVATURE[k] * (x - 1.0) ** 2
            + 0.3 * torch.sin(2.0 * x)
            + 0.1 * torch.log1p(x * x)
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


# -------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class TorchCase:
    name: str
    preset: str  # the class name, in torch.optim and in jopt.compat.torch
    kwargs: dict = field(default_factory=dict)  # PyTorch names: passed to both sides
    schedule: tuple | None = None  # ("step", lr, step_size, gamma) | ("exp", lr, gamma)

    @property
    def sign(self) -> float:
        return -1.0 if self.kwargs.get("maximize") else 1.0  # maximize climbs −E


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
    TorchCase("adamw", "AdamW", dict(lr=0.05)),
    TorchCase(
        "adamw-betas-amsgrad-steplr",
        "AdamW",
        dict(betas=(0.85, 0.995), weight_decay=0.1, amsgrad=True),
        ("step", 0.05, 15, 0.5),
    ),
    TorchCase("adamw-maximize-eps", "AdamW", dict(lr=0.05, eps=1e-6, maximize=True)),
]


@dataclass(frozen=True)
class KerasCase:
    name: str
    preset: str  # the class name, in keras.optimizers and in jopt.compat.keras
    kwargs: dict = field(default_factory=dict)  # Keras names: passed to both sides
    # ("keras_exp", lr, decay_steps, rate): keras ExponentialDecay;
    # ("legacy_decay", lr, decay): jopt's tf.keras 2 ``decay``; keras InverseTimeDecay(lr, 1, decay)
    schedule: tuple | None = None


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
]


# ------------------------------------------------------------------------------- runners


def run_jopt(tx: optax.GradientTransformation, dtype, steps: int, sign: float = 1.0):
    """The parameter trajectory (a list of dicts of float64 NumPy arrays) under jopt."""
    params = {k: jnp.asarray(v, dtype) for k, v in init_params().items()}

    @jax.jit
    def step(p, s):
        g = jax.grad(loss_jnp)(p, sign)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    state, out = tx.init(params), []
    for _ in range(steps):
        params, state = step(params, state)
        out.append({k: np.asarray(v, np.float64) for k, v in params.items()})
    return out


def jopt_torch(case: TorchCase):
    kwargs = dict(case.kwargs)
    if case.schedule is not None:
        kwargs["lr"] = jopt_schedule(case.schedule)
    return getattr(jt, case.preset)(**kwargs)


def run_torch(case: TorchCase, dtype, steps: int):
    import torch

    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    params = {
        k: torch.tensor(np.asarray(v, dtype), dtype=tdtype, requires_grad=True)
        for k, v in init_params().items()
    }
    kwargs = dict(case.kwargs)
    if case.schedule is not None:
        kwargs["lr"] = case.schedule[1]
    opt = getattr(torch.optim, case.preset)(list(params.values()), **kwargs)
    sched = None
    if case.schedule is not None:
        kind, _, *args = case.schedule
        if kind == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args[0], gamma=args[1])
        else:
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=args[0])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss_torch(params, case.sign).backward()
        opt.step()
        if sched is not None:
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
    return getattr(jk, case.preset)(**kwargs)


def run_keras(case: KerasCase, dtype, steps: int):
    """The trajectory under keras.optimizers (JAX backend), variables and floatx in ``dtype``."""
    import keras

    names = list(init_params())
    floatx = keras.config.floatx()
    keras.config.set_floatx(np.dtype(dtype).name)  # the learning-rate variable's dtype too
    try:
        variables = [
            keras.Variable(np.asarray(v, dtype), name=k, dtype=np.dtype(dtype).name)
            for k, v in init_params().items()
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
        opt = getattr(keras.optimizers, case.preset)(**kwargs)
        grad_fn = jax.jit(jax.grad(loss_jnp))
        out = []
        for _ in range(steps):
            values = {k: jnp.asarray(v.value) for k, v in zip(names, variables, strict=True)}
            grads = grad_fn(values)
            opt.apply_gradients(list(zip([grads[k] for k in names], variables, strict=True)))
            out.append(
                {k: np.asarray(v.value, np.float64) for k, v in zip(names, variables, strict=True)}
            )
    finally:
        keras.config.set_floatx(floatx)
    return out


def errors(actual, expected) -> tuple[float, float]:
    """(max abs error, max relative error) over steps and leaves; rel = abs / max|expected|."""
    max_abs = max_rel = 0.0
    for a_step, e_step in zip(actual, expected, strict=True):
        for k in e_step:
            a, e = a_step[k], e_step[k]
            if not np.all(np.isfinite(a)):
                return float("inf"), float("inf")
            err = float(np.max(np.abs(a - e)))
            max_abs = max(max_abs, err)
            max_rel = max(max_rel, err / max(float(np.max(np.abs(e))), np.finfo(float).tiny))
    return max_abs, max_rel


def torch_errors(case: TorchCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    return errors(
        run_jopt(jopt_torch(case), dtype, steps, case.sign), run_torch(case, dtype, steps)
    )


def keras_errors(case: KerasCase, dtype, steps: int = STEPS) -> tuple[float, float]:
    return errors(run_jopt(jopt_keras(case), dtype, steps), run_keras(case, dtype, steps))
