"""PyTorch's ``torch.optim.lr_scheduler`` as the oracle of ``jopt.schedules``.

The oracle side steps a real PyTorch scheduler and records the rate (or momentum) each
optimizer step used. The jopt side of a test file is evaluated in one compiled call
(:func:`compiled`): every case's arrays from one XLA compilation instead of one or more
per case, which is where the time of these tests goes.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

from tests.support.tolerances import tol

STEPS = 320  # the horizon of every comparison against torch (past every case's period)
README = Path(__file__).resolve().parents[2] / "README.md"


def torch_lrs(make: Callable[..., Any], base: float, steps: int = STEPS) -> np.ndarray:
    """The lr of each of ``steps`` optimizer steps under ``opt.step(); sched.step()``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt, base)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.asarray(lrs, np.float64)


def torch_momenta(make: Callable[..., Any], adam: bool, steps: int = STEPS) -> np.ndarray:
    """The momentum (SGD) or betas[0] (Adam) each optimizer step used."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1) if adam else torch.optim.SGD([p], lr=0.1, momentum=0.5)
    sched = make(opt)
    out = []
    for _ in range(steps):
        group = opt.param_groups[0]
        out.append(group["betas"][0] if adam else group["momentum"])
        opt.step()
        sched.step()
    return np.asarray(out, np.float64)


def torch_fractional(
    make: Callable[..., Any], base: float, iters: int, epochs: int, before: bool
) -> np.ndarray:
    """The lr of each update when ``sched.step(epoch + i / iters)`` runs before (or, as in
    PyTorch's docstring, after) the i-th ``optimizer.step()`` of each epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # step(epoch) is deprecated in torch
        for epoch in range(epochs):
            for i in range(iters):
                if before:
                    sched.step(epoch + i / iters)
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                if not before:
                    sched.step(epoch + i / iters)
    return np.asarray(lrs, np.float64)


def assert_close(got: Any, want: Any, dtype: Any = np.float64, kind: str = "torch_schedule"):
    """``got`` within ``tol(kind, dtype)`` of ``want``, relatively; the absolute floor only
    admits exact zeros (cosine troughs)."""
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol(kind, dtype), atol=1e-30)


def compiled(cases: Mapping[str, Callable[[Any], Any]], inputs: Mapping[str, Any]) -> dict:
    """``{name: case(inputs)}``, every case traced into one jitted function and compiled
    once. ``inputs`` (arrays: counts, base rates) are arguments, never constants, so that
    nothing is folded at compile time and every count is traced."""
    run = jax.jit(lambda x: {name: case(x) for name, case in cases.items()})
    arrays = {k: jnp.asarray(v) for k, v in inputs.items()}
    return jax.tree.map(np.asarray, run(arrays))


def file_values(
    lockstep: Mapping[str, tuple[Any, Callable[[Any], Any], float]],
    *,
    fractional: Mapping[str, Callable[[Any], Any]] = {},  # noqa: B006 (read only)
    momentum: Mapping[str, Callable[[Any], Any]] = {},  # noqa: B006
    large: Mapping[str, Callable[[Any], Any]] = {},  # noqa: B006
    extra: Mapping[str, Callable[[Any], Any]] = {},  # noqa: B006
    extra_inputs: Mapping[str, Any] = {},  # noqa: B006
) -> dict:
    """Every case of one test file, in one :func:`compiled` call: ``lockstep`` maps a name
    to (torch's maker, jopt's maker, base rate); the other kinds map a name to jopt's
    maker; ``extra`` cases read :func:`inputs` plus ``extra_inputs``. Keys:
    ``lockstep/<name>``, ``fractional/<name>``, ``momentum/<name>``, ``large/<name>``."""
    cases: dict[str, Callable[[Any], Any]] = {}
    for name, (_, make, base) in lockstep.items():
        cases[f"lockstep/{name}"] = lockstep_case(make, name, base)
    for name, make in fractional.items():
        cases[f"fractional/{name}"] = fractional_case(make)
    for name, make in momentum.items():
        cases[f"momentum/{name}"] = momentum_case(make)
    for name, make in large.items():
        cases[f"large/{name}"] = large_case(make)
    cases.update(extra)
    bases = {name: base for name, (_, _, base) in lockstep.items()}
    return compiled(cases, {**inputs(bases), **extra_inputs})


def lockstep(make: Callable[[Any], Any], base: float, counts: Any, bases: Any) -> dict:
    """A schedule's arrays for the comparison with torch, under ``jit``:

    - ``f64``: the schedule built with a traced float64 base rate (vmapped over ``bases``),
      each count a traced scalar (``lax.map``, the path an optimizer's update takes);
    - ``f32``: built with a float32 base rate, vmapped over the counts.
    """
    f64 = jax.vmap(lambda b: jax.lax.map(make(b), counts))(bases)
    f32 = jax.vmap(make(jnp.float32(base)))(counts)
    return {"f64": f64, "f32": f32}


# ------------------------------------------------- the inputs of a file's compiled call

ITERS, EPOCHS = 7, 45  # fractional counts: 315 updates, 7 per epoch
BIG = 2**31 - 1
COUNTS32 = [0, 1, 12_345, 1_000_000_007, 1_499_999_999, 1_500_000_000, BIG - 1, BIG]
COUNTS64 = [2**31, 3_000_000_001, 2**33 + 3]


def inputs(bases: Mapping[str, float] = {}) -> dict[str, np.ndarray]:  # noqa: B006
    """The arguments of a file's :func:`compiled` call: the counts of each kind of
    comparison, and ``base/<case>`` = (base, base / 4) for each lockstep case."""
    return {
        "counts": np.arange(STEPS, dtype=np.int32),
        "fractional": np.arange(ITERS * EPOCHS, dtype=np.int32),
        "large32": np.asarray(COUNTS32, np.int32),
        "large64": np.asarray(COUNTS32 + COUNTS64, np.int64),
        **{f"base/{name}": np.asarray([b, b / 4], np.float64) for name, b in bases.items()},
    }


def lockstep_case(make: Callable[[Any], Any], name: str, base: float) -> Callable[[Any], Any]:
    """The case ``name`` of a lockstep table, for :func:`compiled`."""
    return lambda x: lockstep(make, base, x["counts"], x[f"base/{name}"])


def assert_lockstep(values: Mapping[str, np.ndarray], torch_make: Any, base: float) -> None:
    """A case's :func:`lockstep` arrays equal PyTorch's rates at ``base`` and ``base / 4``
    (float64) and at ``base`` (float32)."""
    want = [torch_lrs(torch_make, b) for b in (base, base / 4)]
    assert values["f64"].dtype == np.float64
    for got, w in zip(values["f64"], want, strict=True):
        assert_close(got, w)
    # float32: a float32 base rate makes the whole computation float32.
    assert values["f32"].dtype == np.float32
    assert_close(values["f32"], want[0], np.float32)


def momentum_case(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A momentum schedule ``make(f)`` (``f`` applied to its momenta: float or float32),
    vmapped over the counts in both dtypes."""
    return lambda x: {
        "f64": jax.vmap(make(float))(x["counts"]),
        "f32": jax.vmap(make(jnp.float32))(x["counts"]),
    }


def assert_momentum(values: Mapping[str, np.ndarray], torch_make: Any, adam: bool) -> None:
    want = torch_momenta(torch_make, adam)
    assert values["f64"].dtype == np.float64
    assert_close(values["f64"], want)
    assert values["f32"].dtype == np.float32
    assert_close(values["f32"], want, np.float32)


def fractional_case(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A schedule ``make(f)`` (``f`` applied to its base rate) at the real counts PyTorch's
    ``step(epoch + i / ITERS)`` sets, before and after each update."""

    def case(x: Any) -> dict[str, Any]:
        k = x["fractional"]
        sched, sched32 = make(float), make(jnp.float32)
        # step(epoch + i / iters) before the update: the rate at update k is sched(k / iters).
        # (int32 / int is float32 in JAX even with x64 on: k.astype(float) keeps float64.)
        before = k.astype(float) / ITERS
        # PyTorch's docstring order (after the update) lags one update behind.
        after = jnp.maximum(k - 1, 0).astype(float) / ITERS
        both = jax.vmap(sched)(jnp.concatenate([before, after]))
        return {
            "before": both[: k.size],
            "after": both[k.size :],
            "after32": jax.vmap(sched32)(after),
        }

    return case


def assert_fractional(values: Mapping[str, np.ndarray], torch_make: Any) -> np.ndarray:
    """A :func:`fractional_case`'s arrays equal PyTorch's epoch stepping; returns PyTorch's
    rates when stepped before the update."""
    before = torch_fractional(torch_make, 0.1, ITERS, EPOCHS, before=True)
    assert_close(values["before"], before)
    want = torch_fractional(torch_make, 0.1, ITERS, EPOCHS, before=False)
    assert_close(values["after"], want)
    assert values["after32"].dtype == np.float32
    assert_close(values["after32"], want, np.float32)
    return before


def large_case(make: Callable[[], Any]) -> Callable[[Any], Any]:
    """A schedule at :data:`COUNTS32` (int32) and :data:`COUNTS32` + :data:`COUNTS64`
    (int64), each count a traced scalar."""
    return lambda x: {
        "int32": jax.lax.map(make(), x["large32"]),
        "int64": jax.lax.map(make(), x["large64"]),
    }


def assert_large(values: Mapping[str, np.ndarray], formula: Callable[[int], float]) -> None:
    """A :func:`large_case`'s arrays equal ``formula`` (PyTorch's, written out in float64)."""
    for dtype, counts in (("int32", COUNTS32), ("int64", COUNTS32 + COUNTS64)):
        np.testing.assert_allclose(
            values[dtype],
            [formula(t) for t in counts],
            rtol=tol("large_count"),
            atol=tol("large_count_floor"),
            err_msg=dtype,
        )


def assert_large_without_x64(make: Callable[[], Any], formula: Callable[[int], float]) -> None:
    """With x64 off: float32 rates, as close to ``formula`` as float32 allows."""
    with without_x64():
        got = jax.jit(lambda c: jax.lax.map(make(), c))(jnp.asarray(COUNTS32, jnp.int32))
        assert got.dtype == jnp.float32
        np.testing.assert_allclose(
            got,
            [formula(t) for t in COUNTS32],
            rtol=tol("large_count", np.float32),
            atol=tol("large_count_floor", np.float32),
        )


@contextlib.contextmanager
def without_x64() -> Iterator[None]:
    """x64 off inside (the suite turns it on), back on after."""
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", True)


def readme_block(containing: str) -> str:
    """The README's python block that contains ``containing``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if containing in b)
