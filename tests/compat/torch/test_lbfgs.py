"""jopt.compat.torch.LBFGS (jopt/compat/torch/_lbfgs.py) against torch.optim.LBFGS, step()
by step().

LBFGS evaluates the loss itself, so the lockstep harness (tests/support/parity.py: both fed
the same gradient arrays) does not apply. Here both minimize the same deterministic loss
from the same start, and PyTorch's closure evaluates the very JAX function jopt uses (at
PyTorch's parameters): only the optimizers' own arithmetic can make them differ. The
parameters are compared after every ``step()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
from tests.support import parity
from tests.support.parity import init_params, loss_jnp
from tests.support.tolerances import tol

CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=4, history_size=3),  # the history ring wraps around
    # the evaluation budget ends some steps early
    dict(
        lr=0.3, max_iter=3, max_eval=5, history_size=2, tolerance_change=1e-5, tolerance_grad=1e-4
    ),
    dict(max_iter=6, max_eval=7, tolerance_change=1e-4, line_search_fn="strong_wolfe"),
]
# Each stopping rule on its own ends steps early (max_iter=20, 6 steps: fewer than 120
# iterations); dropping any one of them from jopt changes the iteration count (checked).
STOPS = [
    dict(max_iter=20, tolerance_grad=1e-3, tolerance_change=0.0),  # max|g| before and in the loop
    dict(max_iter=20, tolerance_grad=1e-3, tolerance_change=0.0, line_search_fn="strong_wolfe"),
    dict(max_iter=20, tolerance_grad=0.0, tolerance_change=1e-3),  # |f_new - f| < tol
    dict(lr=0.01, max_iter=20, tolerance_grad=0.0, tolerance_change=1e-2),  # max|d·t| <= tol
]


def rosenbrock(params):
    """A curved valley (line searches that bracket and zoom) plus the parity loss."""
    x = params["w"].ravel()
    rest = {"b": params["b"], "s": params["s"]}
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2) + loss_jnp(rest)


def negated(params):
    return -loss_jnp(params)


VALUE_AND_GRAD = {loss: jax.jit(jax.value_and_grad(loss)) for loss in (loss_jnp, rosenbrock)}


@dataclass(frozen=True)
class Run:
    """``steps`` step()s of torch's LBFGS(**kwargs) and jopt's (``jopt_kwargs`` added), on
    ``loss`` from the parity problem's start in ``dtype``; ``schedule(opt)``: a torch
    scheduler stepped after each step(). With ``jopt_kwargs=dict(maximize=True)`` jopt
    climbs −loss while PyTorch descends loss."""

    kwargs: dict
    dtype: type = np.float64
    loss: Callable = loss_jnp
    steps: int = 6
    jopt_kwargs: dict = field(default_factory=dict)
    schedule: Callable | None = None


def lbfgs_runs(runs: list[Run]) -> list[tuple[float, int, int]]:
    """For each run: the max relative parameter error over its step()s, and both iteration
    counts. jopt's runs are one compiled program (a scan over the steps each)."""
    starts = [{k: jnp.asarray(v, r.dtype) for k, v in init_params().items()} for r in runs]

    def trajectory(run, params):
        tx = jt.LBFGS(**{**run.kwargs, **run.jopt_kwargs})
        ours = negated if run.jopt_kwargs.get("maximize") else run.loss

        def step(carry, _):
            params, state = carry
            grads = jax.grad(ours)(params)
            updates, state = tx.update(grads, state, params, value=ours(params), value_fn=ours)
            params = optax.apply_updates(params, updates)
            return (params, state), params

        (_, state), path = jax.lax.scan(step, (params, tx.init(params)), None, length=run.steps)
        return path, state.n_iter

    @jax.jit
    def all_runs(starts):
        return [trajectory(run, start) for run, start in zip(runs, starts, strict=True)]

    results = []
    for run, start, (path, n_iter) in zip(runs, starts, all_runs(starts), strict=True):
        path = {k: np.asarray(v, np.float64) for k, v in path.items()}
        theirs = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in start.items()}
        opt = torch.optim.LBFGS(list(theirs.values()), **run.kwargs)
        sched = None if run.schedule is None else run.schedule(opt)

        def closure(theirs=theirs, value_and_grad=VALUE_AND_GRAD[run.loss]):
            value, grads = value_and_grad(
                {k: jnp.asarray(t.detach().numpy()) for k, t in theirs.items()}
            )
            for k, t in theirs.items():
                t.grad = torch.from_numpy(np.array(grads[k]))
            return torch.from_numpy(np.array(value))

        worst = 0.0
        with parity.one_torch_thread():
            for i in range(run.steps):
                opt.step(closure)
                if sched is not None:
                    sched.step()
                for k, t in theirs.items():
                    ref = t.detach().numpy().astype(np.float64)
                    err = np.max(np.abs(path[k][i] - ref)) / np.max(np.abs(ref))
                    worst = max(worst, err)
        results.append((worst, int(n_iter), opt.state[theirs["w"]]["n_iter"]))
    return results


# float32 on the strong-Wolfe line search (the float64 runs check the formulas)
RUNS = [(kwargs, np.float64) for kwargs in CASES] + [(CASES[1], np.float32)]
STOP_IDS = ["grad", "grad-strong-wolfe", "loss-change", "step"]
# The lockstep runs of the tests below, by name: the first in the inner loop, the rest
# (marked slow) compiled together.
SLOW = {
    **{f"{CASES.index(k)}-{np.dtype(d).name}": Run(k, d) for k, d in RUNS},
    **{f"stop-{name}": Run(k) for name, k in zip(STOP_IDS, STOPS, strict=True)},
    # Rosenbrock's valley makes the strong-Wolfe search bracket and zoom; the history of 3
    # wraps around.
    "valley": Run(
        dict(max_iter=5, history_size=3, line_search_fn="strong_wolfe"), loss=rosenbrock, steps=8
    ),
    "schedule": Run(
        dict(lr=0.8, max_iter=3),
        jopt_kwargs=dict(lr=jopt.schedules.step_lr(0.8, step_size=2, gamma=0.5)),
        schedule=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5),
    ),
    "maximize": Run(
        dict(max_iter=4, line_search_fn="strong_wolfe"), jopt_kwargs=dict(maximize=True)
    ),
}
QUICK = {"0-float64": SLOW.pop("0-float64")}


@pytest.fixture(scope="session")
def quick():
    return dict(zip(QUICK, lbfgs_runs(list(QUICK.values())), strict=True))


@pytest.fixture(scope="session")
def slow():
    return dict(zip(SLOW, lbfgs_runs(list(SLOW.values())), strict=True))


def test_steps_match_torch_at_the_defaults(quick):
    worst, ours, theirs = quick["0-float64"]
    assert ours == theirs  # the same number of iterations
    assert worst <= tol("lockstep", np.float64), worst


@pytest.mark.slow
@pytest.mark.parametrize("run", [r for r in SLOW if r[0].isdigit()])
def test_steps_match_torch(run, slow):
    worst, ours, theirs = slow[run]
    assert ours == theirs  # the same number of iterations
    assert worst <= tol("lockstep", SLOW[run].dtype), worst


@pytest.mark.slow
@pytest.mark.parametrize("name", STOP_IDS)
def test_each_stopping_rule_matches_torch(name, slow):
    worst, ours, theirs = slow[f"stop-{name}"]
    assert ours == theirs < 6 * SLOW[f"stop-{name}"].kwargs["max_iter"]
    assert worst <= tol("lockstep", np.float64), worst


@pytest.mark.slow
def test_a_curved_valley_matches_torch_in_float64(slow):
    worst, ours, theirs = slow["valley"]
    assert ours == theirs > 30
    assert worst <= tol("lockstep", np.float64), worst


@pytest.mark.slow
def test_a_learning_rate_schedule_is_read_once_per_step(slow):
    worst, ours, theirs = slow["schedule"]
    assert ours == theirs and worst <= tol("lockstep", np.float64), worst


@pytest.mark.slow
def test_maximize_climbs_the_negated_loss(slow):
    worst, ours, theirs = slow["maximize"]
    assert ours == theirs and worst <= tol("lockstep", np.float64), worst


def test_value_and_grad_are_optional_and_extra_arguments_reach_the_loss():
    params = {"w": jnp.zeros(3)}

    def loss(p, target):
        return jnp.sum((p["w"] - target) ** 2)

    target = jnp.array([1.0, -2.0, 0.5])
    tx = jt.LBFGS(line_search_fn="strong_wolfe")
    state = tx.init(params)
    updates, state = tx.update({"w": jnp.zeros(3)}, state, params, value_fn=loss, target=target)
    np.testing.assert_allclose(optax.apply_updates(params, updates)["w"], target, atol=1e-12)


@pytest.mark.slow
def test_contract():
    # jopt.testing.check_transformation passes extra keyword arguments to every update:
    # only value_fn here, so each update evaluates the loss at its own params.
    params = {
        "w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32).reshape(2, 3),
        "b": jnp.ones(3, jnp.bfloat16),
        "f": jnp.ones(2, jnp.float16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(jnp.zeros_like, params)

    def loss(p):
        return sum(jnp.sum((x.astype(jnp.float64) - 2.0) ** 2) for x in jax.tree.leaves(p))

    schedule = jopt.schedules.step_lr(1.0, step_size=2)
    tx = jt.LBFGS(schedule, max_iter=3, history_size=2, line_search_fn="strong_wolfe")
    jopt.testing.check_transformation(tx, params, grads, require_count=True, value_fn=loss)
    state = jt.LBFGS(history_size=7).init(params)
    assert state.old_dirs.shape == (7, 6 + 3 + 2 + 1) and state.d.dtype == jnp.float64
    assert float(jopt.get_learning_rate(state)) == 1.0


@pytest.mark.slow
def test_vmap_over_learning_rates():
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)}

    def loss(p):
        return jnp.sum(jnp.cosh(p["w"] - 0.3))

    grads = jax.grad(loss)(params)
    jopt.testing.check_vmap(
        lambda lr: jt.LBFGS(lr, max_iter=3), params, grads, [1.0, 0.1], steps=2, value_fn=loss
    )


def test_defaults_are_torchs():
    ours = inspect.signature(jt.LBFGS).parameters
    theirs = inspect.signature(torch.optim.LBFGS).parameters
    assert [p for p in ours if p != "maximize"] == list(theirs)[1:]
    for name, p in ours.items():
        if name != "maximize":
            assert p.default == theirs[name].default, name


@pytest.mark.parametrize(
    "kwargs, match, error",
    [
        (dict(lr=-1.0), r"Invalid learning rate: -1.0", ValueError),
        (dict(line_search_fn="wolfe"), r"line_search_fn='wolfe' is invalid", ValueError),
        (dict(history_size=0), r"history_size=0 is invalid", ValueError),
        (dict(max_iter=2.5), r"max_iter=2.5 is invalid", TypeError),
        (dict(max_eval=0), r"max_eval=0 is invalid", ValueError),
        (dict(tolerance_grad=-1.0), r"tolerance_grad=-1.0 is invalid", ValueError),
        (dict(tolerance_change=float("nan")), r"tolerance_change=nan is invalid", ValueError),
    ],
)
def test_bad_arguments(kwargs, match, error):
    with pytest.raises(error, match=rf"jopt.compat.torch.LBFGS: {match}"):
        jt.LBFGS(**kwargs)


def test_lr_error_is_torchs():
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], lr=-1.0)
    with pytest.raises(ValueError) as ours:
        jt.LBFGS(lr=-1.0)
    assert str(theirs.value) in str(ours.value)


def test_update_without_value_fn_says_what_to_pass():
    tx = jt.LBFGS()
    with pytest.raises(ValueError, match="needs params and value_fn"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)), jnp.zeros(2))


def test_complex_params_are_refused():
    with pytest.raises(TypeError, match="complex parameter"):
        jt.LBFGS().init(jnp.zeros(2, jnp.complex64))


def test_cubic_interpolate_is_torchs():
    from torch.optim.lbfgs import _cubic_interpolate

    from jopt.compat.torch._lbfgs import cubic_interpolate

    rng = np.random.default_rng(0)
    for _ in range(200):
        x1, f1, g1, x2, f2, g2 = rng.normal(size=6)
        bounds = tuple(sorted(rng.normal(size=2))) if rng.random() < 0.5 else None
        theirs = _cubic_interpolate(
            x1, f1, torch.tensor(g1), x2, f2, torch.tensor(g2), bounds=bounds
        )
        ours = cubic_interpolate(*map(jnp.asarray, (x1, f1, g1, x2, f2, g2)), bounds=bounds)
        np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-14, atol=1e-14)


def test_strong_wolfe_is_torchs_on_random_line_searches():
    # Random non-convex losses, directions, first steps, budgets and curvature constants,
    # until every statement of PyTorch's _strong_wolfe has run (traced below): bracketing,
    # zooming, moving off a bracket's end, a bracket too small, running out of evaluations.
    import ast
    import inspect
    import sys
    import textwrap

    from torch.optim.lbfgs import _strong_wolfe

    from jopt.compat.torch._lbfgs import strong_wolfe

    def loss(x, a):
        return jnp.sum(0.5 * a[0] * (x - a[2]) ** 2 + a[3] * jnp.sin(a[1] * x))

    value_and_grad = jax.value_and_grad(loss)
    fast = jax.jit(value_and_grad)

    @jax.jit
    def ours(x, d, t, a, max_ls, c2, tol):
        f, g = value_and_grad(x, a)

        def obj(x, t, d):
            return value_and_grad(x + t * d, a)

        return strong_wolfe(obj, x, t, d, f, g, g @ d, max_ls, c2=c2, tolerance_change=tol)

    source, first = inspect.getsourcelines(_strong_wolfe)
    body = ast.parse(textwrap.dedent("".join(source))).body[0].body
    statements = {
        n.lineno + first - 1 for s in body for n in ast.walk(s) if isinstance(n, ast.stmt)
    }
    ran: set[int] = set()

    def trace(frame, event, arg):
        if frame.f_code is not _strong_wolfe.__code__:
            return None

        def line(frame, event, arg):
            ran.add(frame.f_lineno) if event == "line" else None
            return line

        return line

    rng = np.random.default_rng(0)
    for _ in range(300):
        a = np.stack(
            [rng.uniform(0.1, 2, 3), rng.uniform(1, 6, 3), rng.normal(size=3), rng.uniform(0, 2, 3)]
        )
        x = rng.normal(size=3)
        f, g = fast(x, a)
        d = -np.asarray(g) + 0.3 * rng.normal(size=3)
        if g @ d >= 0:
            continue
        t = 10.0 ** rng.uniform(-2, 1)
        max_ls = int(rng.choice([1, 2, 4, 25]))
        c2 = float(rng.choice([0.9, 0.1, 0.01]))
        tol = float(rng.choice([1e-9, 1e-2, 0.3]))

        def obj_func(x0, step, direction, a=a):
            value, grad = fast(x0[0].numpy() + float(step) * direction.numpy(), a)
            return float(value), torch.from_numpy(np.array(grad))

        sys.settrace(trace)
        try:
            theirs = _strong_wolfe(
                obj_func,
                [torch.from_numpy(x)],
                t,
                torch.from_numpy(d),
                float(f),
                torch.from_numpy(np.array(g)),
                torch.tensor(float(g @ d), dtype=torch.float64),
                c2=c2,
                tolerance_change=tol,
                max_ls=max_ls,
            )
        finally:
            sys.settrace(None)
        f_ours, g_ours, t_ours, evals = ours(x, d, t, a, max_ls, c2, tol)
        # The same path (number of evaluations) to the same point. Not to 1e-12 everywhere:
        # a cubic fitted through two nearly equal steps turns last-bit differences of f
        # (evaluated inside jopt's loop vs by PyTorch's closure) into 1e-7 of t.
        assert int(evals) == theirs[3]
        np.testing.assert_allclose(float(t_ours), float(theirs[2]), rtol=1e-6)
        np.testing.assert_allclose(float(f_ours), theirs[0], rtol=1e-6)
    missed = sorted(statements - ran)
    assert not missed, [source[i - first].strip() for i in missed]


@pytest.mark.slow
def test_readme_snippet_fits_the_line():
    scope: dict = {}
    exec(
        compile(
            parity.readme_block("### L-BFGS: the loss evaluated inside the step"), "README", "exec"
        ),
        scope,
    )
    np.testing.assert_allclose(np.asarray(scope["w"]), [1.0, -2.0, 0.5], atol=1e-5)
    assert float(scope["loss"]) < 1e-8  # the loss at the start of the third step
