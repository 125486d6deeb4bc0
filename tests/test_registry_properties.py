"""Properties of every registry case on random trees, dtypes and hyperparameters (hypothesis).

Each property is a checker that raises AssertionError, run over every case of
tests/registry.py (so cases added later are covered) and shown to fail on a
deliberately broken transformation. The examples are derandomized, few and small (the
profile in tests/conftest.py); what a case satisfies is decided from its math, recorded
as a registry flag where the math differs between cases, and checked both ways:

- zero gradient from the initial state leaves the params unchanged, unless a weight
  decay moves them (``Case.decays``: then the first step moves them towards zero);
- momentum β = 0 equals the same step without momentum (gradient descent);
- with ε = 0 the update ignores a gradient scale c > 0 (``Case.scale_invariant``: Adam,
  RMSprop, ...), and every other case's update changes with the scale;
- ``maximize=True`` on f equals minimizing −f;
- ``optax.chain(tx)`` equals ``tx``;
- each ``jopt.schedules`` factory equals its closed form, written here in NumPy;
- ``jax.jit`` equals eager.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jopt
import jopt.compat.keras as jk
import jopt.compat.schedulefree as sf
import jopt.compat.torch as jt
from tests.support.registry import CASES, HOMES, Case

IDS = [c.name for c in CASES]
HOME_IDS = [c.name for c in HOMES]
# Random problems per case and property: each draws a new tree (shapes, dtypes, nesting),
# hyperparameters and gradients; the registry's ~85 cases multiply it.
EXAMPLES = 4
STEPS = 3
# Agreement "to rounding" per leaf dtype: two computations of the same math may round
# differently (jit fuses, a cast happens one op earlier), by a few units of the last place.
RTOL = {
    np.dtype(np.float64): 1e-12,
    np.dtype(np.float32): 1e-5,
    np.dtype(jnp.bfloat16): 2e-2,
    np.dtype(np.float16): 2e-3,
}

# ----------------------------------------------------------------------- random problems


@dataclasses.dataclass(frozen=True)
class Leaf:
    shape: tuple[int, ...]
    dtype: Any


LEAVES = st.builds(
    Leaf,
    st.sampled_from([(), (3,), (2, 3)]),
    st.sampled_from([jnp.float32, jnp.float64, jnp.bfloat16, jnp.float16]),
)
# Nested dicts, lists and tuples of 1 to 3 leaves (a bare array is a tree too).
TREES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from("abc"), inner, min_size=1, max_size=2),
        st.lists(inner, min_size=1, max_size=2),
        st.lists(inner, min_size=1, max_size=2).map(tuple),
    ),
    max_leaves=3,
)


@dataclasses.dataclass
class Problem:
    params: Any
    grads: list  # one gradient tree per step, every entry 0.1 <= |g| <= 2
    values: list  # the monitored loss per step (cases with needs_value)
    mask: Any  # a random bool per leaf, the first True
    lr_factor: float  # the case's lr times this
    hyper_factor: float  # the case's hyperparameters in (0, 1) times this


@st.composite
def problems(draw):
    spec = draw(TREES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    is_leaf = lambda x: isinstance(x, Leaf)  # noqa: E731

    def array(values, leaf):
        return jnp.asarray(np.asarray(values, np.float64).reshape(leaf.shape), leaf.dtype)

    def params_leaf(leaf):
        return array(rng.normal(size=leaf.shape), leaf)

    def grad_leaf(leaf):
        magnitude = rng.uniform(0.1, 2.0, size=leaf.shape)
        return array(rng.choice([-1.0, 1.0], size=leaf.shape) * magnitude, leaf)

    params = jax.tree.map(params_leaf, spec, is_leaf=is_leaf)
    grads = [jax.tree.map(grad_leaf, spec, is_leaf=is_leaf) for _ in range(STEPS)]
    flags = [True] + [bool(b) for b in rng.integers(0, 2, len(jax.tree.leaves(params)) - 1)]
    mask = jax.tree.unflatten(jax.tree.structure(params), flags)
    return Problem(
        params,
        grads,
        values=[jnp.asarray(v) for v in rng.uniform(0.5, 2.0, STEPS)],
        mask=mask,
        lr_factor=draw(st.floats(0.5, 1.5)),
        hyper_factor=draw(st.floats(0.5, 1.0)),
    )


def with_args(case: Case, problem: Problem, **changes: Any) -> Case:
    """The case with random hyperparameters: every float argument in (0, 1) (β, ρ, decay,
    dampening, ...) times one factor in [0.5, 1] (which keeps each valid, keeps their
    order, and keeps zeros zero), a random mask, and ``changes`` applied last."""
    kwargs = {
        k: v * problem.hyper_factor if isinstance(v, float) and 0.0 < v < 1.0 else v
        for k, v in case.kwargs.items()
    }
    if "mask" in kwargs:
        kwargs["mask"] = problem.mask
    kwargs.update(changes)
    return dataclasses.replace(case, kwargs={k: v for k, v in kwargs.items() if v is not _DROP})


_DROP = object()  # with_args(..., name=_DROP) removes an argument


def lr_of(case: Case, problem: Problem) -> float:
    return case.lr * problem.lr_factor


def run(tx, params, grads, values=None):
    """The updates of ``len(grads)`` steps, the params following them."""
    state, out = tx.init(params), []
    for t, g in enumerate(grads):
        extra = {} if values is None else {"value": values[t]}
        u, state = tx.update(g, state, params, **extra)
        out.append(u)
        params = optax.apply_updates(params, u)
    return out


def values_for(case: Case, problem: Problem):
    return problem.values if case.needs_value else None


def parameter_names(case: Case) -> set[str]:
    return set(inspect.signature(case.factory).parameters)


# ----------------------------------------------------------------------------- comparing


def _leaves64(tree):
    return [(np.asarray(x, np.float64), np.dtype(x.dtype)) for x in jax.tree.leaves(tree)]


def assert_close(got, want, what: str) -> None:
    """Same structure and dtypes, values equal to each leaf dtype's rounding."""
    assert jax.tree.structure(got) == jax.tree.structure(want), f"{what}: structures differ"
    for (a, da), (b, db) in zip(_leaves64(got), _leaves64(want), strict=True):
        assert da == db, f"{what}: dtype {da} != {db}"
        rtol = RTOL.get(da, 0.0)  # integers (counts): exactly
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3, err_msg=what)


def relative_gap(got, want) -> float:
    """The largest difference, in units of the leaf dtype's rounding tolerance."""
    gaps = [
        np.max(np.abs(a - b) / (RTOL[da] * np.maximum(np.abs(b), 1e-3)), initial=0.0)
        for (a, da), (b, _) in zip(_leaves64(got), _leaves64(want), strict=True)
    ]
    return float(max(gaps, default=0.0))


# --------------------------------------------------------------------------- the checkers


def check_zero_gradient(tx, params, *, decays: bool, steps: int = STEPS, values=None) -> None:
    """Zero gradients from the initial state: no update at all, or (``decays``) updates
    that are exactly zero until the first that moves the params (a call that only
    accumulates gradients, a step that undoes the decay), which moves them towards zero."""
    zeros = [jax.tree.map(jnp.zeros_like, params) for _ in range(steps)]
    updates = run(tx, params, zeros, values)
    moving = [t for t, u in enumerate(updates) if any(np.any(x != 0) for x, _ in _leaves64(u))]
    if not decays:
        for t in moving[:1]:
            moved = [x for x, _ in _leaves64(updates[t]) if np.any(x != 0)]
            raise AssertionError(f"zero gradient, step {t + 1}: the params moved by {moved[0]}")
        return
    assert moving, "a decaying case did not move"
    first = moving[0]  # the params are the initial ones until then
    for (u, _), (p, _) in zip(_leaves64(updates[first]), _leaves64(params), strict=True):
        assert np.all(u * p <= 0.0), (
            f"step {first + 1}: decay moved params away from zero: {p} by {u}"
        )


def check_momentum_zero(tx, reference, params, grads, values=None) -> None:
    """``tx`` (momentum β = 0) gives ``reference``'s updates: a transformation, or a
    function ``(params, grads) -> updates`` computing gradient descent in NumPy."""
    got = run(tx, params, grads, values)
    if isinstance(reference, optax.GradientTransformation):
        want = run(reference, params, grads, values)
    else:
        want = reference(params, grads, got)
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        assert_close(a, b, f"β = 0 momentum vs gradient descent, step {t + 1}")


def check_scale(tx, params, grads, c: float, *, invariant: bool, values=None) -> None:
    """Updates for ``c * grads`` equal those for ``grads`` iff ``invariant``."""
    scaled = [jax.tree.map(lambda g: (g * c).astype(g.dtype), gs) for gs in grads]
    plain, other = run(tx, params, grads, values), run(tx, params, scaled, values)
    for leaf in jax.tree.leaves((plain, other)):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64))), f"not finite: {leaf}"
    if invariant:
        for t, (a, b) in enumerate(zip(other, plain, strict=True)):
            assert_close(a, b, f"update for {c:g}·g vs g, step {t + 1}")
    else:
        gap = max(relative_gap(a, b) for a, b in zip(other, plain, strict=True))
        assert gap > 10.0, (
            f"the update ignores the gradient's scale {c:g} (gap {gap:.3g}); if the math "
            "says so, set scale_invariant=True on the case"
        )


def check_maximize(make, params, grad, steps: int = STEPS, values=None) -> None:
    """``make(True)`` climbing an objective follows ``make(False)`` descending its
    negation; ``grad(params)`` is the objective's gradient."""
    up, down = make(True), make(False)
    p, q = params, params
    s, r = up.init(p), down.init(q)
    for t in range(steps):
        extra = {} if values is None else {"value": values[t]}
        u, s = up.update(grad(p), s, p, **extra)
        v, r = down.update(jax.tree.map(jnp.negative, grad(q)), r, q, **extra)
        p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
        assert_close(p, q, f"maximize f vs minimize −f, params after step {t + 1}")


def check_chain(tx, params, grads, chain=optax.chain, values=None) -> None:
    """``chain(tx)`` gives exactly ``tx``'s updates."""
    for t, (a, b) in enumerate(
        zip(run(chain(tx), params, grads, values), run(tx, params, grads, values), strict=True)
    ):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            assert x.dtype == y.dtype and np.array_equal(
                np.asarray(x, np.float64), np.asarray(y, np.float64)
            ), f"chain(tx) vs tx, step {t + 1}: {x} != {y}"


def check_jit(tx, params, grads, values=None) -> None:
    """A jitted step gives the eager updates and states."""

    def step(g, s, p, *value):
        return tx.update(g, s, p, **({"value": value[0]} if value else {}))

    jitted = jax.jit(step)
    s_eager = s_jit = tx.init(params)
    for t, g in enumerate(grads):
        value = () if values is None else (values[t],)
        u_eager, s_eager = step(g, s_eager, params, *value)
        try:
            u_jit, s_jit = jitted(g, s_jit, params, *value)
        except Exception as error:  # a host-side computation on a traced value
            raise AssertionError(f"the update fails under jax.jit: {error}") from error
        assert_close((u_jit, s_jit), (u_eager, s_eager), f"jit vs eager, step {t + 1}")
        params = optax.apply_updates(params, u_eager)


# --------------------------------------------------------------- the properties, per case


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=EXAMPLES)
@given(problem=problems())
def test_zero_gradient_leaves_params_unchanged_unless_decay(case, problem):
    tx = with_args(case, problem).make(lr_of(case, problem))
    check_zero_gradient(tx, problem.params, decays=case.decays, values=values_for(case, problem))


MOMENTUM_ARGS = ("momentum", "beta")  # Adam's β1 is not one: at 0 it is RMSprop, not GD
# Muon orthogonalizes its buffer (Newton–Schulz): at β = 0 it is orthogonalized gradient
# descent, which has no momentum-free twin to compare with.
ORTHOGONALIZED = {jopt.muon, jopt.scale_by_muon, jt.Muon, jk.Muon}
# schedulefree's momentum is the interpolation β1 in (0, 1) that x = (y − (1 − β1)z)/β1
# divides by: the package refuses 0.
INTERPOLATION = {sf.SGDScheduleFree, sf.ScheduleFreeWrapper}
# MoMo at β = 0 is Polyak's capped step min(α, (f − f_*)/‖g‖²)·g (SPS_max), not GD.
POLYAK = {jopt.momo}
# Signum at β = 0 is signSGD (−α sign g) and LARS at μ = 0 is SGD on its trust-ratio-scaled
# gradient, not Δθ = −α g: their β = 0 twins are checked in tests/algorithms/ (sign, layerwise).
NOT_GD_AT_ZERO = {jopt.signum, jopt.lars}
# MADGRAD's momentum averages dual-averaging iterates: at β = 0 it is x_0 − s/ν^(1/3).
DUAL_AVERAGED = {jopt.madgrad, jopt.scale_by_madgrad}
MOMENTUM_CASES = [
    c
    for c in CASES
    if parameter_names(c) & set(MOMENTUM_ARGS)
    and c.factory not in ORTHOGONALIZED | INTERPOLATION | POLYAK | NOT_GD_AT_ZERO | DUAL_AVERAGED
]


@pytest.mark.parametrize("case", MOMENTUM_CASES, ids=[c.name for c in MOMENTUM_CASES])
@settings(max_examples=EXAMPLES)
@given(problem=problems())
def test_zero_momentum_is_gradient_descent(case, problem):
    # β = 0 as a JAX array keeps the buffer (jopt._base.requested), so the momentum math
    # runs at β = 0. Dampening rescales the buffer's input (it goes with the momentum);
    # PyTorch-style Nesterov requires β > 0 (checked at construction, as in PyTorch).
    name = next(n for n in MOMENTUM_ARGS if n in parameter_names(case))
    zero = with_args(
        case, problem, **{name: jnp.asarray(0.0), "dampening": _DROP, "nesterov": _DROP}
    )
    lr, values = lr_of(case, problem), values_for(case, problem)
    default = inspect.signature(case.factory).parameters[name].default
    if default is None or default == 0:
        # The factory's own momentum-free step (no buffer) is the reference.
        off = with_args(case, problem, **{name: _DROP, "dampening": _DROP, "nesterov": _DROP})
        reference = off.make(lr)
    else:
        # A momentum primitive (on by default): without momentum it is Δθ = −α g.
        assert set(case.kwargs) <= {name, "dampening", "nesterov", "mu_dtype"}, case
        assert case.around is None, case

        def reference(params, grads, got):
            return [
                jax.tree.map(
                    lambda g, u: np.asarray(-lr * np.asarray(g, np.float64), u.dtype), gs, us
                )
                for gs, us in zip(grads, got, strict=True)
            ]

    check_momentum_zero(zero.make(lr), reference, problem.params, problem.grads, values)


EPS_ARGS = ("eps", "epsilon", "eps1", "adam_eps")
# Left out: a case wrapped in another optimizer (``around``: that optimizer's ε cannot be
# set to 0 here), and Keras' Muon, whose Newton–Schulz ε is fixed at 1e-7 inside Keras.
# jopt.chain's case chains scale_by_adam at its default ε, which chain cannot set to 0.
# Mechanic divides by sqrt(v) + ε with v = 0 at its first step: its ε must be > 0.
SCALE_CASES = [
    c for c in CASES if c.around is None and c.factory not in (jk.Muon, jopt.chain, jopt.mechanize)
]


def _zero_eps(case) -> dict:
    """Every ε of the factory set to 0 (torch Adafactor's pair (ε1, ε2): ε1 only, as ε2
    floors RMS(θ), which does not depend on g)."""
    zeros = {}
    for name, p in inspect.signature(case.factory).parameters.items():
        if name in EPS_ARGS:
            zeros[name] = (0.0, p.default[1]) if isinstance(p.default, tuple) else 0.0
    return zeros


@pytest.mark.parametrize("case", SCALE_CASES, ids=[c.name for c in SCALE_CASES])
@settings(max_examples=EXAMPLES)
@given(problem=problems(), k=st.integers(6, 10))
def test_scale_invariance_with_zero_eps(case, problem, k):
    # c = 2^-k scales exactly in every float format (no rounding changes), so an
    # invariant update is reproduced to the bit; c << 1 makes every term that does not
    # scale with g (a decay, an initial accumulator) stand out.
    eps = _zero_eps(case)
    tx = with_args(case, problem, **eps).make(lr_of(case, problem))
    params, grads = problem.params, problem.grads
    if not case.scale_invariant:
        # What does not scale (λθ next to cg) can be 1e-3 of the update: float64 sees it,
        # bfloat16 rounding would hide it.
        params, grads = jax.tree.map(lambda x: x.astype(jnp.float64), (params, grads))
    check_scale(
        tx,
        params,
        grads,
        2.0**-k,
        invariant=case.scale_invariant,
        values=values_for(case, problem),
    )


# A case whose factory sits inside another optimizer (``around``) is left out: the other
# optimizer does not take the factory's ``maximize``.
MAXIMIZE_CASES = [c for c in CASES if "maximize" in parameter_names(c) and c.around is None]


def concave_gradient(problem: Problem):
    """The gradient −2c(θ − t) of the objective −Σ c (θ − t)², with random c > 0 and t
    (the first two gradient trees give them)."""
    scale = jax.tree.map(jnp.abs, problem.grads[0])
    target = problem.grads[1]
    return lambda params: jax.tree.map(lambda c, x, t: -2.0 * c * (x - t), scale, params, target)


@pytest.mark.parametrize("case", MAXIMIZE_CASES, ids=[c.name for c in MAXIMIZE_CASES])
@settings(max_examples=EXAMPLES)
@given(problem=problems())
def test_maximize_is_minimizing_the_negated_objective(case, problem):
    lr = lr_of(case, problem)
    check_maximize(
        lambda up: with_args(case, problem, maximize=up).make(lr),
        problem.params,
        concave_gradient(problem),
        values=values_for(case, problem),
    )


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
@settings(max_examples=3)  # optax.chain's property: a few trees per case show a lost state
@given(problem=problems())
def test_chain_of_one_is_the_transformation(case, problem):
    tx = with_args(case, problem).make(lr_of(case, problem))
    check_chain(tx, problem.params, problem.grads, values=values_for(case, problem))


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
@settings(max_examples=1)  # each example compiles; the contract compares jit and eager too
@given(problem=problems())
def test_jit_equals_eager(case, problem):
    tx = with_args(case, problem).make(lr_of(case, problem))
    check_jit(tx, problem.params, problem.grads, values_for(case, problem))


# ------------------------------------------------- each property fails on a broken transform


def _params_and_grads():
    params = {"a": jnp.asarray([0.5, -1.5, 2.0]), "b": jnp.asarray(-0.25, jnp.float32)}
    grads = [
        jax.tree.map(lambda p, t=t: (0.3 * p + 0.2 * t + 0.1).astype(p.dtype), params)
        for t in range(STEPS)
    ]
    return params, grads


def _stateless(fn):
    return optax.GradientTransformation(
        lambda p: optax.EmptyState(), lambda u, s, p=None: (fn(u, p), s)
    )


def test_zero_gradient_check_fails_on_a_transform_that_adds_a_constant():
    params, _ = _params_and_grads()
    drift = optax.chain(jopt.sgd(0.1), _stateless(lambda u, p: jax.tree.map(lambda x: x + 1e-3, u)))
    with pytest.raises(AssertionError, match="the params moved"):
        check_zero_gradient(drift, params, decays=False)
    check_zero_gradient(jopt.sgd(0.1), params, decays=False)  # the unbroken one passes


def test_zero_gradient_check_fails_on_decay_that_grows_the_params():
    params, _ = _params_and_grads()
    grows = _stateless(lambda u, p: jax.tree.map(lambda g, x: g - 0.5 * x, u, p))  # λ < 0
    with pytest.raises(AssertionError, match="away from zero"):
        check_zero_gradient(optax.chain(grows, jopt.sgd(0.1)), params, decays=True)
    with pytest.raises(AssertionError, match="did not move"):  # a flag set without decay
        check_zero_gradient(jopt.sgd(0.1), params, decays=True)
    check_zero_gradient(jopt.sgd(0.1, weight_decay=0.5), params, decays=True)
    # after a first update of zeros (as with accumulation), the first that moves is checked
    with pytest.raises(AssertionError, match="step 2: decay moved params away"):
        check_zero_gradient(
            _from_second_call(optax.chain(grows, jopt.sgd(0.1))), params, decays=True
        )
    with pytest.raises(AssertionError, match="step 2: the params moved"):
        check_zero_gradient(
            _from_second_call(jopt.sgd(0.1, weight_decay=0.5)), params, decays=False
        )
    check_zero_gradient(_from_second_call(jopt.sgd(0.1, weight_decay=0.5)), params, decays=True)


def _from_second_call(tx):
    """``tx`` with its first update replaced by zeros."""

    def update(u, s, p=None):
        count, inner = s
        out, inner = tx.update(u, inner, p)
        out = jax.tree.map(lambda x: jnp.where(count > 0, x, jnp.zeros_like(x)), out)
        return out, (count + 1, inner)

    return optax.GradientTransformation(lambda p: (jnp.zeros([], jnp.int32), tx.init(p)), update)


def _leaky_momentum(beta):
    # b_t = (β + 0.1) b_{t−1} + g_t: momentum that does not switch off at β = 0.
    def update(u, b, p=None):
        b = jax.tree.map(lambda m, g: (beta + 0.1) * m + g, b, u)
        return b, b

    return optax.GradientTransformation(lambda p: jax.tree.map(jnp.zeros_like, p), update)


def test_momentum_check_fails_on_momentum_that_leaks_at_zero():
    params, grads = _params_and_grads()
    gd = jopt.gd(0.1)
    with pytest.raises(AssertionError, match="β = 0 momentum"):
        check_momentum_zero(
            optax.chain(_leaky_momentum(0.0), jopt.scale_by_learning_rate(0.1)), gd, params, grads
        )
    check_momentum_zero(jopt.sgd(0.1, momentum=jnp.asarray(0.0)), gd, params, grads)


def test_scale_check_fails_both_ways():
    params, grads = _params_and_grads()
    hidden_eps = jopt.adam(0.1, eps=1e-3)  # claims eps = 0, keeps one: not invariant
    with pytest.raises(AssertionError, match="update for"):
        check_scale(hidden_eps, params, grads, 2.0**-8, invariant=True)
    with pytest.raises(AssertionError, match="ignores the gradient's scale"):  # a missing flag
        check_scale(jopt.adam(0.1, eps=0.0), params, grads, 2.0**-8, invariant=False)
    check_scale(jopt.adam(0.1, eps=0.0), params, grads, 2.0**-8, invariant=True)
    check_scale(jopt.sgd(0.1), params, grads, 2.0**-8, invariant=False)


def test_maximize_check_fails_on_a_transform_that_ignores_the_sign():
    params, _ = _params_and_grads()

    def objective(p):  # the gradient of −Σ(θ − 1)²
        return jax.tree.map(lambda x: -2.0 * (x - 1.0), p)

    def ignores_sign(maximize):
        return jopt.sgd(0.1, momentum=0.5)

    def flips_decay_too(maximize):  # negates the whole step, the decay's pull included
        tx = jopt.sgd(0.1, momentum=0.5, weight_decay=0.5)
        return optax.chain(tx, optax.scale(-1.0)) if maximize else tx

    for broken in (ignores_sign, flips_decay_too):
        with pytest.raises(AssertionError, match="maximize f vs minimize"):
            check_maximize(broken, params, objective)
    check_maximize(lambda m: jopt.sgd(0.1, 0.5, weight_decay=0.5, maximize=m), params, objective)


def test_chain_check_fails_on_a_chain_that_forgets_its_state():
    params, grads = _params_and_grads()

    def forgetful_chain(tx):
        return optax.GradientTransformation(
            tx.init, lambda u, s, p=None, **kw: (tx.update(u, tx.init(p), p, **kw)[0], s)
        )

    with pytest.raises(AssertionError, match="chain.tx. vs tx"):
        check_chain(jopt.sgd(0.1, momentum=0.9), params, grads, chain=forgetful_chain)


def test_jit_check_fails_on_transforms_that_break_under_jit():
    params, grads = _params_and_grads()
    calls = []

    def counting(u, p):  # a Python-side step count: frozen at its traced value under jit
        calls.append(None)
        return jax.tree.map(lambda x: x * float(len(calls)), u)

    def host_value(u, p):  # reads a value on the host: cannot be traced
        return jax.tree.map(lambda x: x * float(jnp.max(x)), u)

    with pytest.raises(AssertionError, match="jit vs eager"):
        check_jit(_stateless(counting), params, grads)
    with pytest.raises(AssertionError, match="fails under jax.jit"):
        check_jit(_stateless(host_value), params, grads)
