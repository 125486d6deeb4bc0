"""Schedule-free learning (Defazio et al., 2024, "The Road Less Scheduled"): the one home
of its interpolation and averaging.

Three sequences: z takes the base optimizer's steps, x averages z, and the gradient is
taken at y = (1 − β1) z + β1 x. The parameters θ are y; z is kept in the state and x is
read back from θ and z (:func:`eval_point`). :func:`schedule_free` wraps any base
optimizer (optax.contrib's and schedulefree's ``ScheduleFreeWrapper``);
:func:`schedule_free_sgd`, :func:`schedule_free_adamw` and :func:`schedule_free_radam` are
the authors' fused optimizers (schedulefree 1.4.1) built on it; :func:`keras_schedule_free_adamw`
is Keras 3's form, which shares :func:`y_step` and :func:`eval_point`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import rectification
from jopt._algorithms.regularization.weight_decay import add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import (
    Real,
    checked,
    choice,
    dtype,
    flag,
    integer,
    nonnegative,
    optional,
    real,
    transformation,
    unchecked,
    unit_interval,
)
from jopt._core.checks import learning_rate as learning_rate_rule
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, state_dtype, stored
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import (
    LearningRateState,
    init_learning_rate,
    next_learning_rate,
    scale_by_learning_rate,
)
from jopt._core.state import (
    check_params,
    check_tree,
    check_update_params,
    evaluate,
    increment,
    moments_like,
    requested,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class ScheduleFreeAdamWState(NamedTuple):
    """``count``: updates applied; ``z``: the sequence the gradient steps move (Keras'
    ``momentum``, starting at the initial parameters); ``v``: the second moment;
    ``beta_1``: β1, kept so the evaluation point x can be read back; ``rate``: the
    learning-rate state."""

    count: jax.Array
    z: PerParam
    v: PerParam
    beta_1: jax.Array
    rate: LearningRateState


class _Scalars(NamedTuple):
    """The per-dtype scalars of one update (α_t, β1 in the compute dtype, the rest real)."""

    alpha: jax.Array  # α_t, warmed up
    b1: jax.Array
    b2: jax.Array
    correction: jax.Array  # 1 − β2^t
    eps: jax.Array
    weight: jax.Array  # 1/t, x's averaging weight


def _copy(params: Any) -> Any:
    check_params(params)
    return jax.tree.map(lambda p: jnp.copy(p).astype(state_dtype(p)), params)


def keras_schedule_free_adamw(
    learning_rate: ScalarOrSchedule,
    beta_1: Scalar,
    beta_2: Scalar,
    epsilon: Scalar,
    warmup_steps: Any,
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free AdamW's whole step from checked arguments (the learning rate is
    inside z; θ is y, the point gradients are taken at):

    α_t ← α_t·min(t/warmup_steps, 1) if warmup_steps;
    v_t = v_{t−1} + (g² − v_{t−1})(1 − β2);
    z_t = z_{t−1} − α_t g / (sqrt(v_t/(1 − β2^t)) + ε);
    x_{t−1} = (θ − (1 − β1) z_{t−1}) / β1,  x_t = (1 − 1/t) x_{t−1} + z_t / t;
    θ ← (1 − β1) z_t + β1 x_t.

    The builder of :func:`jopt.compat.keras.ScheduleFreeAdamW`; the state is a
    :class:`ScheduleFreeAdamWState` and :func:`eval_point` reads x back from it.
    ``update`` needs ``params``.
    """

    def init_fn(params):
        return ScheduleFreeAdamWState(
            zero_count(params),
            _copy(params),
            moments_like(params, real=True),
            scalar(params, beta_1, jnp.result_type(float)),
            init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the step moves them between z and x)", state.z)
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype
        def scalars(dt: jnp.dtype) -> _Scalars:
            rdt = real_dtype(dt)
            t = (state.count + 1).astype(rdt)
            alpha = cast(lr, rdt)
            if requested(warmup_steps):  # min(t/0, 1) = 1: no warmup, as Keras
                alpha = alpha * jnp.minimum(t / cast(warmup_steps, rdt), 1.0)
            b2 = cast(beta_2, rdt)
            return _Scalars(
                alpha=alpha,
                b1=cast(beta_1, dt),
                b2=b2,
                correction=1 - b2**t,
                eps=cast(epsilon, rdt),
                weight=1.0 / t,
            )

        def step(g, y, z, v):
            dt = compute_dtype(g)
            s = scalars(dt)
            out_dtype = g.dtype
            g, y, z_old = g.astype(dt), y.astype(dt), z.astype(dt)
            v_old = v.astype(real_dtype(dt))
            v_new = stored(v_old + (abs_sq(g) - v_old) * (1 - s.b2), v.dtype)
            denom = jnp.sqrt(v_new / s.correction) + s.eps
            z_new = stored(z_old - (s.alpha.astype(dt) * g) / denom.astype(dt), z.dtype)
            # Keras' x_old, x_new and y_new, written as y_new − y (y_step)
            out = y_step(y, z_old, z_new - z_old, s.b1, s.weight.astype(dt))
            return out.astype(out_dtype), z_new.astype(z.dtype), v_new.astype(v.dtype)

        out, z, v = map_leaves(step, 3, updates, params, state.z, state.v)
        return out, ScheduleFreeAdamWState(increment(state.count), z, v, state.beta_1, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def eval_point(y: jax.Array, z: jax.Array, beta_1: jax.Array) -> jax.Array:
    """x = (y − (1 − β1)·z) / β1: the averaged point schedule-free evaluates at."""
    dt = compute_dtype(y)
    b1 = cast(beta_1, dt)
    return ((y.astype(dt) - (1 - b1) * z.astype(dt)) / b1).astype(y.dtype)


def y_step(y: jax.Array, z_old: jax.Array, dz: jax.Array, b1: Any, c: Any) -> jax.Array:
    """y_{t+1} − y_t from y_t, z_t and Δz = z_{t+1} − z_t: the schedule-free interpolation.

    x_t = (y_t − (1 − β1) z_t)/β1,  x_{t+1} = (1 − c) x_t + c z_{t+1},
    y_{t+1} = (1 − β1) z_{t+1} + β1 x_{t+1},  so
    y_{t+1} − y_t = (1 − β1) Δz + c (z_t − y_t + β1 Δz):

    written so that two parameter-sized numbers are never subtracted to get the small
    update (their rounding, an ulp of θ, would be 1e-5 of the update in float32). All in
    one dtype.
    """
    return (1 - b1) * dz + c * (z_old - y + b1 * dz)


# --------------------------------------------------------------------- the wrapper


class ScheduleFreeState(NamedTuple):
    """The state of :func:`jopt.schedule_free` and its aliases (optax.contrib's field names,
    with jopt's ``count`` for optax's ``step_count``).

    Args:
      b1: β1, kept so that :func:`jopt.schedule_free_eval_params` can read x back.
      weight_sum: the sum of the averaging weights so far (the widest float).
      count: int32, updates applied.
      max_lr: the largest learning rate so far (the widest float).
      base_optimizer_state: the base optimizer's state.
      z: the sequence the base optimizer steps, starting at the initial parameters.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.schedule_free_sgd(0.5)
    >>> state = tx.init(jnp.array([1.0]))
    >>> _, state = tx.update(jnp.array([1.0]), state, jnp.array([1.0]))
    >>> state.z, state.count  # z ← z − αg
    (Array([0.5], dtype=float32), Array(1, dtype=int32))
    """

    b1: jax.Array
    weight_sum: jax.Array
    count: jax.Array
    max_lr: jax.Array
    base_optimizer_state: Any
    z: PerParam


def _z_copy(params: Any, dtype: Any | None) -> Any:
    check_params(params)
    return jax.tree.map(lambda p: jnp.copy(p).astype(state_dtype(p, dtype)), params)


def build_schedule_free(
    base: optax.GradientTransformation,
    learning_rate: ScalarOrSchedule | None,
    b1: Scalar,
    weight_lr_power: Scalar,
    r: Scalar,
    weight_decay_at_y: ScalarOrSchedule | None,
    z_dtype: Any | None,
    *,
    base_at_z: bool,
    lr_ahead: bool,
) -> optax.GradientTransformationExtraArgs:
    """The schedule-free wrapper from checked arguments (see :func:`schedule_free`).

    ``learning_rate`` (a number or a schedule of the updates applied; ``None``: the base's
    own rate, read with :func:`jopt.get_learning_rate` from its state) weights the average
    and scales the decay at y. ``base_at_z``: the base optimizer sees z (after the decay
    at y) as its params, as schedulefree's wrapper steps z in place (else y, optax's);
    ``lr_ahead``: the rate of the weights is ``learning_rate(count + 1)``, optax's.
    """
    base = optax.with_extra_args_support(base)
    decays = requested(weight_decay_at_y)
    wide = jnp.result_type(float)

    def init_fn(params):
        return ScheduleFreeState(
            b1=scalar(params, b1, wide),
            weight_sum=scalar(params, 0.0, wide),
            count=zero_count(params),
            max_lr=scalar(params, 0.0, wide),
            base_optimizer_state=base.init(params),
            z=_z_copy(params, z_dtype),
        )

    def rate(value: Any, count: jax.Array) -> jax.Array:
        return cast(evaluate(value, count, "the learning_rate schedule"), wide)

    def update_fn(updates, state, params=None, **extra_args):
        check_update_params(updates, params, "(the step moves them between z and x)", state.z)
        if learning_rate is None:
            from jopt._core.learning_rate import get_learning_rate  # noqa: PLC0415

            lr_now = cast(get_learning_rate(state.base_optimizer_state), wide)
        else:
            lr_now = rate(learning_rate, state.count + 1 if lr_ahead else state.count)
        decay = None
        if decays:
            lam = evaluate(weight_decay_at_y, state.count, "the weight_decay schedule")
            decay = cast(lam, wide) * lr_now

        def decayed(y, z):  # z − αλy: the point schedulefree's base optimizer steps
            dt = compute_dtype(y)
            return (z.astype(dt) - cast(decay, real_dtype(dt)).astype(dt) * y.astype(dt)).astype(
                z.dtype
            )

        point = params
        if base_at_z:
            point = jax.tree.map(decayed, params, state.z) if decays else state.z
        base_updates, base_state = base.update(
            updates, state.base_optimizer_state, point, **extra_args
        )
        if learning_rate is None:
            from jopt._core.learning_rate import get_learning_rate  # noqa: PLC0415

            lr_now = cast(get_learning_rate(base_state), wide)
        t = (state.count + 1).astype(wide)
        max_lr = jnp.maximum(state.max_lr, lr_now)
        weight = t ** cast(r, wide) * max_lr ** cast(weight_lr_power, wide)
        total = state.weight_sum + weight
        c = jnp.where(total > 0, weight / jnp.where(total > 0, total, 1.0), 0.0)

        @per_dtype
        def scalars(dt: jnp.dtype) -> tuple[jax.Array, jax.Array, jax.Array | None]:
            rdt = real_dtype(dt)
            lam = None if decay is None else cast(decay, rdt).astype(dt)
            return cast(b1, rdt).astype(dt), c.astype(rdt).astype(dt), lam

        def step(g, y, z, u):
            dt = compute_dtype(y)
            b, cw, lam = scalars(dt)
            yw, zw = y.astype(dt), z.astype(dt)
            dz = u.astype(dt) if lam is None else u.astype(dt) - lam * yw
            z_new = zw + dz
            if z.dtype != dt:  # a narrower z: step by what was stored
                z_new = stored(z_new, z.dtype)
                dz = z_new - zw
            out = y_step(yw, zw, dz, b, cw)
            return out.astype(g.dtype), z_new.astype(z.dtype)

        out, z = map_leaves(step, 2, updates, params, state.z, base_updates)
        return out, ScheduleFreeState(
            b1=state.b1,
            weight_sum=total,
            count=increment(state.count),
            max_lr=max_lr,
            base_optimizer_state=base_state,
            z=z,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


FORMS = ("schedulefree", "optax")
B1 = Real(0.0, 1.0, lo_open=True)  # x = (y − (1 − β1)z)/β1 divides by β1
WRAPPER_RULES = dict(
    b1=B1, weight_lr_power=real(), state_dtype=dtype(), r=real(), form=choice(*FORMS)
)


@checked(
    base_optimizer=transformation("jopt.adam(1e-3, b1=0.0)"),
    learning_rate=learning_rate_rule(),
    weight_decay_at_y=optional(nonnegative(schedule=True)),
    **WRAPPER_RULES,
)
def schedule_free(
    base_optimizer: optax.GradientTransformation,
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    weight_lr_power: Scalar = 2.0,
    state_dtype: Any | None = None,
    *,
    r: Scalar = 0.0,
    weight_decay_at_y: ScalarOrSchedule | None = None,
    form: str = "schedulefree",
) -> optax.GradientTransformationExtraArgs:
    """Makes ``base_optimizer`` schedule-free (Defazio et al. 2024): its steps move z, x
    averages z, and the parameters (y) interpolate the two.

    With Δz_t the base optimizer's update at step t (the gradient taken at y_t), α_t the
    rate and λ ``weight_decay_at_y``:

    z_{t+1} = z_t − α_t λ y_t + Δz_t;
    c_{t+1} = w_t / Σ_{i≤t} w_i,  w_t = t^r · (max_{i≤t} α_i)^weight_lr_power;
    x_{t+1} = (1 − c_{t+1}) x_t + c_{t+1} z_{t+1};
    y_{t+1} = (1 − β1) z_{t+1} + β1 x_{t+1}.

    z and x start at the parameters. Evaluate at x: :func:`jopt.schedule_free_eval_params`.
    Switch the base optimizer's momentum off (``jopt.adam(lr, b1=0.0)``); give it the
    same rate as ``learning_rate``.

    ``form="schedulefree"`` (the default) is the authors' ``ScheduleFreeWrapper``
    (schedulefree 1.4.1): the base optimizer steps z, so it gets z as its ``params``
    (its own weight decay acts at z), and α_t is ``learning_rate`` at the updates already
    applied, the count the base optimizer's own schedule sees. ``form="optax"`` is
    ``optax.contrib.schedule_free``: the base optimizer gets y as ``params`` and α_t is
    ``learning_rate(t)``, one count ahead of the base's (during a warmup the z steps lag
    the weights by a step). ``r`` and ``weight_decay_at_y`` are the authors' (optax has
    neither: r = 0, no decay).

    Args:
      base_optimizer: the transformation whose updates move z.
      learning_rate: α >= 0 or a schedule ``count -> α``: weights the average.
      b1: β1 in (0, 1], the interpolation (the authors' ``momentum``).
      weight_lr_power: the power of the largest rate in the weights.
      state_dtype: the dtype z is stored in (None: the dtype rule of :mod:`jopt`).
      r: the power of t in the weights (polynomial averaging).
      weight_decay_at_y: λ >= 0 (or a schedule ``count -> λ``), the decay computed at y and
        applied to z (None: off).
      form: ``"schedulefree"`` or ``"optax"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScheduleFreeState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.schedule_free(jopt.sgd(0.5), 0.5, b1=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([1.0]), state, params)
    >>> params + updates, state.z  # x = z = 0.5 after one step (c = 1)
    (Array([0.5], dtype=float32), Array([0.5], dtype=float32))
    """
    return build_schedule_free(
        base_optimizer,
        learning_rate,
        b1,
        weight_lr_power,
        r,
        weight_decay_at_y,
        state_dtype,
        base_at_z=form == "schedulefree",
        lr_ahead=form == "optax",
    )


# ------------------------------------------------------------- the fused optimizers


class ScaleByScheduleFreeRmsState(NamedTuple):
    """The second moment of :func:`schedule_free_adamw` and :func:`schedule_free_radam`.

    Args:
      count: int32, steps taken.
      nu: v, the EMA of g² (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.schedule_free_adamw(b2=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> _, state = tx.update(jnp.array([2.0]), state, jnp.zeros(1))
    >>> state.base_optimizer_state[0].nu  # (1 − β2)g²
    Array([2.], dtype=float32)
    """

    count: jax.Array
    nu: PerParam


def scale_by_schedule_free_rms(
    b2: Scalar, eps: Scalar, mode: str = "adam"
) -> optax.GradientTransformationExtraArgs:
    """The authors' normalized gradient: v_t = β2 v_{t−1} + (1 − β2) g²,
    d_t = g / (sqrt(v_t/(1 − β2^t)) + ε) (``mode="adam"``); g/(sqrt(v_t) + ε)
    (``"paper"``, AdamWScheduleFreePaper: the correction is in the rate);
    RAdam's: d_t as ``"adam"`` once ρ_t > 4, else g (``"radam"``). From checked arguments.
    """

    def init_fn(params):
        return ScaleByScheduleFreeRmsState(zero_count(params), moments_like(params, real=True))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.nu)
        count = increment(state.count)
        on = rectification(b2, 4.0, count)[0] if mode == "radam" else None

        @per_dtype
        def scalars(dt):
            rdt = real_dtype(dt)
            c2 = cast(b2, rdt)
            return c2, 1 - c2, 1 - c2 ** count.astype(rdt), cast(eps, rdt)

        def step(g, v):
            dt = compute_dtype(g)
            c2, rest2, bias2, e = scalars(dt)
            gw = g.astype(dt)
            v_new = stored(c2 * v.astype(real_dtype(dt)) + rest2 * abs_sq(gw), v.dtype)
            denom = jnp.sqrt(v_new if mode == "paper" else v_new / bias2) + e
            out = gw / denom.astype(dt)
            if on is not None:
                out = jnp.where(on, out, gw)
            return out.astype(g.dtype), v_new.astype(v.dtype)

        out, nu = map_leaves(step, 2, updates, state.nu, elementwise=True)
        return out, ScaleByScheduleFreeRmsState(count, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _warmup(lr: ScalarOrSchedule, warmup_steps: Any, lag: int) -> ScalarOrSchedule:
    """α·min((count + 1 − lag)/W, 1) (W = 0 or None: α): the authors' warmup (lag 0)
    or optax's ``warmup_constant_schedule`` seen by its base optimizer (lag 1)."""
    if warmup_steps is None or (isinstance(warmup_steps, int) and warmup_steps == 0):
        return lr
    if lag and not callable(lr):  # optax's own schedule, as it rounds it (float32)
        return optax.warmup_constant_schedule(0.0, lr, warmup_steps)

    def schedule(count):
        wide = jnp.result_type(float)
        t, w = (count + 1 - lag).astype(wide), cast(warmup_steps, wide)
        ramp = jnp.where(w > 0, jnp.minimum(t / jnp.where(w > 0, w, 1.0), 1.0), 1.0)
        return cast(evaluate(lr, count), wide) * ramp

    return schedule


def _fused(
    direction: optax.GradientTransformation | None,
    learning_rate: ScalarOrSchedule,
    warmup_steps: Any,
    b1: Scalar,
    weight_decay: ScalarOrSchedule | None,
    weight_lr_power: Scalar,
    state_dtype: Any | None,
    r: Scalar,
    form: str,
    factor: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """A fused schedule-free optimizer: ``direction`` (None: the gradient), the rate with
    its warmup (times ``factor(count)`` if given), the decay at y, on the wrapper."""
    first = [] if direction is None else [direction]
    if form == "optax":  # the decay and the lagged rate inside the base optimizer, at y
        decay = [add_decayed_weights(weight_decay)] if requested(weight_decay) else []
        rate = _warmup(learning_rate, warmup_steps, 1)
        base = chain(*first, *decay, scale_by_learning_rate(rate))
        return build_schedule_free(
            base, rate, b1, weight_lr_power, r, None, state_dtype, base_at_z=False, lr_ahead=True
        )
    warmed = _warmup(learning_rate, warmup_steps, 0)

    def scaled(count: jax.Array) -> jax.Array:
        return cast(evaluate(warmed, count), jnp.result_type(float)) * factor(count)

    rate = warmed if factor is None else scaled
    base = chain(*first, scale_by_learning_rate(rate))
    return build_schedule_free(
        base,
        rate,
        b1,
        weight_lr_power,
        r,
        weight_decay,
        state_dtype,
        base_at_z=False,
        lr_ahead=False,
    )


FUSED_RULES = dict(
    learning_rate=learning_rate_rule(),
    warmup_steps=optional(integer(0, traced=True)),
    b1=B1,
    weight_lr_power=real(),
    state_dtype=dtype(),
    r=real(),
)


@checked(**FUSED_RULES, weight_decay=optional(nonnegative(schedule=True)), form=choice(*FORMS))
def schedule_free_sgd(
    learning_rate: ScalarOrSchedule = 1.0,
    warmup_steps: int | None = None,
    b1: Scalar = 0.9,
    weight_decay: ScalarOrSchedule | None = None,
    weight_lr_power: Scalar = 2.0,
    state_dtype: Any | None = None,
    *,
    r: Scalar = 0.0,
    form: str = "schedulefree",
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free SGD (Defazio et al. 2024), schedulefree 1.4.1's ``SGDScheduleFree``.

    α_t = α·min(t/warmup_steps, 1) (t = 1, 2, …);  d_t = g_t + λ y_t;
    z_{t+1} = z_t − α_t d_t;  x and y as :func:`jopt.schedule_free` with
    w_t = t^r · (max_{i≤t} α_i)^weight_lr_power.

    ``form="optax"`` is ``optax.contrib.schedule_free_sgd``: its base SGD runs the warmup
    one count behind the weights (the first z step is 0 with a warmup); without warmup
    the two forms agree (to rounding).

    Args:
      learning_rate: α >= 0 (or a schedule ``count -> α``, then warmed up).
      warmup_steps: the linear warmup's length, an integer >= 0 (None or 0: none).
      b1: β1 in (0, 1], the interpolation (the authors' ``momentum``).
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y (None: off).
      weight_lr_power: the power of the largest rate in the averaging weights.
      state_dtype: the dtype z is stored in.
      r: the power of t in the averaging weights.
      form: ``"schedulefree"`` (the authors') or ``"optax"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.schedule_free_sgd(0.25, b1=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(2):  # z: 0.75, 0.5; x averages z; y halfway between x and z
    ...     updates, state = tx.update(jnp.array([1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> params, jopt.schedule_free_eval_params(state, params)
    (Array([0.5625], dtype=float32), Array([0.625], dtype=float32))
    """
    return _fused(
        None, learning_rate, warmup_steps, b1, weight_decay, weight_lr_power, state_dtype, r, form
    )


@checked(
    **FUSED_RULES,
    b2=unit_interval(),
    eps=nonnegative(),
    weight_decay=nonnegative(schedule=True),
    form=choice("schedulefree", "optax", "paper"),
)
def schedule_free_adamw(
    learning_rate: ScalarOrSchedule = 0.0025,
    warmup_steps: int | None = None,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_lr_power: Scalar = 2.0,
    state_dtype: Any | None = None,
    *,
    r: Scalar = 0.0,
    form: str = "schedulefree",
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free AdamW (Defazio et al. 2024), schedulefree 1.4.1's ``AdamWScheduleFree``.

    α_t = α·min(t/warmup_steps, 1);  v_t = β2 v_{t−1} + (1 − β2) g_t²;
    d_t = g_t / (sqrt(v_t/(1 − β2^t)) + ε) + λ y_t;  z_{t+1} = z_t − α_t d_t;
    x and y as :func:`jopt.schedule_free` with w_t = t^r · (max_{i≤t} α_i)^weight_lr_power.

    ``form`` picks among the authors' three variants of the rate and decay:
    ``"schedulefree"`` (the default, above); ``"paper"``, the package's
    ``AdamWScheduleFreePaper`` (and its AlgoPerf submission's correction): the bias
    correction is in the rate, α_t = α·min(t/W, 1)·sqrt(1 − β2^t), which then also scales
    the decay and the averaging weights, and d_t = g_t/(sqrt(v_t) + ε) + λ y_t;
    ``"optax"``, ``optax.contrib.schedule_free_adamw``: the decay at y too, but its base
    optimizer's warmup runs one count behind the weights' (without a warmup it equals the
    default to rounding). optax has no ``r`` (it is r = 0).

    Args:
      learning_rate: α >= 0 (or a schedule ``count -> α``, then warmed up).
      warmup_steps: the linear warmup's length, an integer >= 0 (None or 0: none).
      b1: β1 in (0, 1], the interpolation.
      b2: β2 in [0, 1), the second moment's decay.
      eps: ε >= 0, added outside the square root.
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y.
      weight_lr_power: the power of the largest rate in the averaging weights.
      state_dtype: the dtype z is stored in.
      r: the power of t in the averaging weights.
      form: ``"schedulefree"``, ``"paper"`` or ``"optax"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.schedule_free_adamw(0.1, b1=0.5, eps=0.0)
    >>> params = jnp.array([1.0, -1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([3.0, -0.5]), state, params)
    >>> params + updates  # z moves α·sign(g) at the first step; x = y = z
    Array([ 0.9, -0.9], dtype=float32)
    """
    direction = scale_by_schedule_free_rms(b2, eps, "paper" if form == "paper" else "adam")

    def corrected(count: jax.Array) -> jax.Array:  # sqrt(1 − β2^t), t = count + 1
        wide = jnp.result_type(float)
        return jnp.sqrt(1 - cast(b2, wide) ** (count + 1).astype(wide))

    factor = corrected if form == "paper" else None

    return _fused(
        direction,
        learning_rate,
        warmup_steps,
        b1,
        weight_decay,
        weight_lr_power,
        state_dtype,
        r,
        "optax" if form == "optax" else "schedulefree",
        factor,
    )


@checked(
    learning_rate=learning_rate_rule(),
    b1=B1,
    b2=unit_interval(),
    eps=nonnegative(),
    weight_decay=nonnegative(schedule=True),
    weight_lr_power=real(),
    state_dtype=dtype(),
    r=real(),
    silent_sgd_phase=flag(),
)
def schedule_free_radam(
    learning_rate: ScalarOrSchedule = 0.0025,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_lr_power: Scalar = 2.0,
    state_dtype: Any | None = None,
    *,
    r: Scalar = 0.0,
    silent_sgd_phase: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free RAdam, schedulefree 1.4.1's ``RAdamScheduleFree`` (optax has none):
    RAdam's rectification replaces the warmup.

    ρ_∞ = 2/(1 − β2) − 1,  ρ_t = ρ_∞ − 2tβ2^t/(1 − β2^t);  v_t = β2 v_{t−1} + (1 − β2) g_t²;
    once ρ_t > 4: α_t = α·r_t (RAdam's r_t, :func:`jopt.radam`) and
    d_t = g_t/(sqrt(v_t/(1 − β2^t)) + ε) + λ y_t; before: d_t = g_t + λ y_t and α_t = 0
    (``silent_sgd_phase``, the default: only v moves) or α;
    z_{t+1} = z_t − α_t d_t; x and y as :func:`jopt.schedule_free`.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in (0, 1], the interpolation.
      b2: β2 in [0, 1), the second moment's decay.
      eps: ε >= 0, added outside the square root.
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y.
      weight_lr_power: the power of the largest rate in the averaging weights.
      state_dtype: the dtype z is stored in.
      r: the power of t in the averaging weights.
      silent_sgd_phase: no step while ρ_t <= 4 (else plain SGD steps).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.schedule_free_radam(0.1)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([3.0]), state, params)
    >>> updates  # ρ_1 = 1 <= 4: silent
    Array([0.], dtype=float32)
    """
    wide = jnp.result_type(float)
    off = 0.0 if silent_sgd_phase else 1.0

    def factor(count):
        on, rect = rectification(b2, 4.0, count + 1)
        return jnp.where(on, rect, jnp.asarray(off, wide))

    return _fused(
        scale_by_schedule_free_rms(b2, eps, "radam"),
        learning_rate,
        None,
        b1,
        weight_decay,
        weight_lr_power,
        state_dtype,
        r,
        "schedulefree",
        factor,
    )


@checked(
    state=unchecked("any pytree holding a ScheduleFreeState; searched by type"),
    params=unchecked("the parameters y; matched to z by path"),
)
def schedule_free_eval_params(state: Any, params: Any) -> Any:
    """The point to evaluate a schedule-free model at: x = (y − (1 − β1)·z) / β1, y the
    current (training) parameters (``optax.contrib.schedule_free_eval_params``; the
    authors' ``optimizer.eval()``).

    ``state`` is the state of :func:`jopt.schedule_free` or one of its aliases, or any
    pytree holding it (in a chain, an ``optax.multi_transform`` group, a Flax
    ``nnx.Optimizer``'s ``opt_state``); leaves no schedule-free state holds keep their
    values. Evaluate at the result, keep training at ``params``.

    Args:
      state: the optimizer state, or any pytree holding it.
      params: the current (training) parameters y.

    Returns:
      x, a tree with the structure of ``params``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.schedule_free_sgd(0.125, b1=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(3):  # z: 0.875, 0.75, 0.625; x averages them (c = 1/t)
    ...     updates, state = tx.update(jnp.array([1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> jopt.schedule_free_eval_params(state, params)
    Array([0.75], dtype=float32)
    """
    from jopt.compat.keras._options import find_one, leaf_value, merge_leaves  # noqa: PLC0415

    found = find_one(state, ScheduleFreeState, "schedule-free state (jopt.ScheduleFreeState)")

    def source(s: ScheduleFreeState) -> tuple[Any, Any]:
        def at(p: Any, z: Any) -> Any:
            return eval_point(leaf_value(p), leaf_value(z), leaf_value(s.b1))

        return s.z, at

    return merge_leaves(params, [source(s) for s in found])
