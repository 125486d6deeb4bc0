"""``torch.amp.GradScaler``: dynamic loss scaling as a pure wrapper around an optimizer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import (
    Real,
    UnnamedValueError,
    checked,
    flag,
    integer,
    positive,
    text,
    transformation,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.state import find_states, scalar, zero_count

STATE = unchecked("any pytree holding a GradScalerState; searched by type")


class GradScalerState(NamedTuple):
    """The state of a transformation wrapped by :meth:`GradScaler.wrap`.

    Args:
      scale: the loss scale S (float32, as PyTorch's).
      growth_tracker: finite steps since the scale last changed (int32).
      inner_state: the wrapped optimizer's state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.GradScaler(init_scale=1024.0).wrap(jt.SGD(lr=0.1))
    >>> state = tx.init(jnp.zeros(2))
    >>> state.scale, state.growth_tracker
    (Array(1024., dtype=float32), Array(0, dtype=int32))
    """

    scale: jax.Array
    growth_tracker: jax.Array
    inner_state: Any


class GradScaler:
    """``torch.amp.GradScaler``: scale the loss, unscale the gradients, skip non-finite steps.

    With scale S (``init_scale`` at first) and a wrapped optimizer ``tx``:
    the loss is multiplied by S (:meth:`scale`), so small float16 gradients do not flush to
    zero;  the wrapped ``update`` receives ∇(S·loss), multiplies it by 1/S;  if any
    gradient is inf or NaN it skips the step (zero updates, ``tx``'s state and counts
    untouched) and sets S ← S·``backoff_factor``;  else it runs ``tx``, and after
    ``growth_interval`` finite steps in a row S ← S·``growth_factor`` (kept if that
    overflows float32).

    This is PyTorch's ``scaler.scale(loss).backward(); scaler.step(opt); scaler.update()``
    as pure functions: the scale lives in the state (:class:`GradScalerState`), so the
    whole step jits. ``enabled=False`` makes :meth:`wrap` return ``tx`` itself and
    :meth:`scale` the loss unchanged. ``device`` is accepted and ignored (JAX places
    arrays itself). Unlike PyTorch, float16 gradients may be unscaled (in float32).

    Args:
      device: accepted and ignored (a string, as PyTorch's).
      init_scale: the first scale S > 0.
      growth_factor: S ← S·growth_factor after ``growth_interval`` finite steps, > 1.
      backoff_factor: S ← S·backoff_factor after a non-finite step, in (0, 1).
      growth_interval: the finite steps in a row before S grows, an integer >= 1 (may be
        traced).
      enabled: False makes the scaler a no-op (:meth:`wrap` returns ``tx``).

    >>> import jax, jax.numpy as jnp, optax
    >>> import jopt.compat.torch as jt
    >>> scaler = jt.GradScaler(init_scale=2.0**10, growth_interval=2)
    >>> tx = scaler.wrap(jt.SGD(lr=0.25))
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> loss_fn = lambda p: jnp.sum(p**2)
    >>> for data in (1.0, jnp.inf, 1.0, 1.0):  # the second step overflows: skipped
    ...     grads = jax.grad(lambda p: scaler.scale(data * loss_fn(p), state))(params)
    ...     updates, state = tx.update(grads, state, params)
    ...     params = optax.apply_updates(params, updates)
    ...     print(params, scaler.get_scale(state))
    [0.5] 1024.0
    [0.5] 512.0
    [0.25] 512.0
    [0.125] 1024.0
    """

    @checked(
        device=text(),
        init_scale=positive(),
        growth_factor=Real(1.0, lo_open=True, message="The growth factor must be > 1.0"),
        backoff_factor=Real(
            0.0, 1.0, lo_open=True, hi_open=True, message="The backoff factor must be < 1.0"
        ),
        growth_interval=integer(1, traced=True),
        enabled=flag(),
    )
    def __init__(
        self,
        device: str = "cuda",
        init_scale: Scalar = 2.0**16,
        growth_factor: Scalar = 2.0,
        backoff_factor: Scalar = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self.device = device
        self.init_scale = init_scale
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self.enabled = enabled

    def __repr__(self) -> str:
        return (
            f"GradScaler(init_scale={self.init_scale!r}, growth_factor={self.growth_factor!r}, "
            f"backoff_factor={self.backoff_factor!r}, growth_interval={self.growth_interval!r}, "
            f"enabled={self.enabled!r})"
        )

    @checked(tx=transformation())
    def wrap(self, tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
        """``tx`` behind the scaler: its ``update`` takes the gradients of the scaled loss.

        The state is :class:`GradScalerState` (``scale``, ``growth_tracker``,
        ``inner_state``); extra keyword arguments of ``update`` go to ``tx``.

        Args:
          tx: the optimizer to run on the unscaled gradients.

        Returns:
          An ``optax.GradientTransformationExtraArgs`` (``tx`` itself when disabled).

        >>> import jax.numpy as jnp
        >>> import jopt.compat.torch as jt
        >>> tx = jt.GradScaler(init_scale=4.0).wrap(jt.SGD(lr=1.0))
        >>> tx.update(jnp.array([8.0]), tx.init(jnp.zeros(1)))[0]  # the step of 8/4
        Array([-2.], dtype=float32)
        """
        if not self.enabled:
            return optax.with_extra_args_support(tx)
        inner = optax.with_extra_args_support(tx)
        init_scale, growth_factor = self.init_scale, self.growth_factor
        backoff_factor, growth_interval = self.backoff_factor, self.growth_interval

        def init_fn(params):
            return GradScalerState(
                scale=scalar(params, init_scale, jnp.float32),
                growth_tracker=zero_count(params),
                inner_state=inner.init(params),
            )

        def update_fn(updates, state, params=None, **extra_args):
            wide = jnp.result_type(float)  # PyTorch takes 1/S and S·factor in float64
            inv_scale = (1.0 / state.scale.astype(wide)).astype(jnp.float32)
            found_inf = ~jnp.all(
                jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(updates)] or [True])
            )

            def unscale(g):
                dt = compute_dtype(g)
                return (g.astype(dt) * inv_scale.astype(dt)).astype(g.dtype)

            # The step runs either way (as optax.apply_if_finite's); a skipped one leaves
            # zero updates and tx's state as it was.
            stepped, inner_state = inner.update(
                jax.tree.map(unscale, updates), state.inner_state, params, **extra_args
            )
            new_updates = jax.tree.map(
                lambda u: jnp.where(found_inf, jnp.zeros_like(u), u), stepped
            )
            inner_state = jax.tree.map(
                lambda old, new: jnp.where(found_inf, old, new), state.inner_state, inner_state
            )
            # torch._amp_update_scale_
            successful = state.growth_tracker + 1
            grow = ~found_inf & (successful == cast(growth_interval, jnp.int32))
            scale = state.scale.astype(wide)
            grown = (scale * cast(growth_factor, wide)).astype(jnp.float32)
            grown = jnp.where(jnp.isfinite(grown), grown, state.scale)
            backed_off = (scale * cast(backoff_factor, wide)).astype(jnp.float32)
            new_scale = jnp.where(found_inf, backed_off, jnp.where(grow, grown, state.scale))
            tracker = jnp.where(found_inf | grow, jnp.zeros([], jnp.int32), successful)
            return new_updates, GradScalerState(new_scale, tracker, inner_state)

        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    @checked(loss=unchecked("a number or an array; multiplied as it is"), state=STATE)
    def scale(self, loss: Any, state: Any) -> jax.Array:
        """The loss times the current scale S, in float32 or wider (PyTorch's ``scale``).

        Args:
          loss: the loss (a number or an array).
          state: the wrapped optimizer's state, or any state holding it (an
            ``optax.chain``'s, a Flax ``nnx.Optimizer``'s ``opt_state``).

        Returns:
          ``loss``·S, float32 for float16 and bfloat16 losses.

        >>> import jax.numpy as jnp
        >>> import jopt.compat.torch as jt
        >>> scaler = jt.GradScaler()
        >>> state = scaler.wrap(jt.SGD()).init(jnp.zeros(2))
        >>> scaler.scale(jnp.asarray(0.5, jnp.float16), state)  # 0.5 · 2**16
        Array(32768., dtype=float32)
        """
        loss = jnp.asarray(loss)
        if not self.enabled:
            return loss
        found = find_states(state, (GradScalerState,))
        if not found:
            raise UnnamedValueError(
                "no GradScalerState in this state; pass the state of the transformation "
                "GradScaler.wrap returned."
            )
        dtype = compute_dtype(loss)  # float16 and bfloat16 losses become float32
        return loss.astype(dtype) * jnp.asarray(found[0].scale[...]).astype(dtype)

    @checked(state=STATE)
    def get_scale(self, state: Any) -> jax.Array:
        """The current scale S (1.0 when disabled, as PyTorch's ``get_scale``).

        Args:
          state: the wrapped optimizer's state, or any state holding it.

        Returns:
          S, a float32 scalar.

        >>> import jax.numpy as jnp
        >>> import jopt.compat.torch as jt
        >>> scaler = jt.GradScaler(init_scale=8.0)
        >>> scaler.get_scale(scaler.wrap(jt.SGD()).init(jnp.zeros(2)))
        Array(8., dtype=float32)
        """
        if not self.enabled:
            return jnp.ones([], jnp.float32)
        return self.scale(jnp.ones([], jnp.float32), state)
