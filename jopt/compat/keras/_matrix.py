"""The matrix family of ``keras.optimizers``: Adafactor, Muon.

Each preset maps Keras' arguments onto jopt primitives (``beta_2_decay → b2_decay``,
``muon_a, muon_b, muon_c → ns_coefficients``) and the learning-rate step, inside
:func:`keras_optimizer` (Keras' base options and its decoupled decay, applied before the
step: Adafactor's RMS(θ) reads the decayed θ).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Unpack

import jax
import optax

from jopt._algorithms.adam.adam import scale_by_adam
from jopt._algorithms.matrix.adafactor import relative_step_size, scale_by_adafactor
from jopt._algorithms.matrix.muon import RULES as MUON_RULES
from jopt._algorithms.matrix.muon import scale_by_muon, scaled
from jopt._core.checks import (
    Real,
    Rule,
    UnnamedTypeError,
    UnnamedValueError,
    flag,
    nonnegative,
    optional,
    real,
    unit_interval,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import requested
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)
from jopt.compat.keras._options import path_name


@keras_preset(
    learning_rate=LEARNING_RATE,
    beta_2_decay=Real(hi=0.0),
    epsilon_1=nonnegative(),  # no None (PyTorch's machine epsilon) here
    epsilon_2=nonnegative(),
    clip_threshold=Real(1.0),
    relative_step=flag(),
    weight_decay=WEIGHT_DECAY,
)
def Adafactor(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    beta_2_decay: Scalar = -0.8,
    epsilon_1: Scalar = 1e-30,
    epsilon_2: Scalar = 1e-3,
    clip_threshold: Scalar = 1.0,
    relative_step: bool = True,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adafactor``, the paper's algorithm:

    θ ← θ − θλα_t  (Keras decays first: RMS(θ) below reads this θ);
    ρ_t = min(α_t, 1/sqrt(t)),  a_t = max(ε2, RMS(θ)) ρ_t;
    R_t, C_t (or v_t) = β̂2_t (…) + (1 − β̂2_t) mean(g² + ε1),  β̂2_t = 1 − t^τ;
    V̂_t = R_t C_tᵀ / mean(R_t);  U_t = g / sqrt(V̂_t);
    θ ← θ − a_t U_t / max(1, RMS(U_t)/d).

    :func:`jopt.scale_by_adafactor` at its defaults (ε1 added to g²) with the relative step
    ρ_t, which :func:`jopt.get_learning_rate` reads.

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      beta_2_decay: τ <= 0 of β̂2_t = 1 − t^τ.
      epsilon_1: ε1 >= 0, added to g².
      epsilon_2: ε2 >= 0, the floor of RMS(θ).
      clip_threshold: d >= 1.
      relative_step: accepted and does nothing, as in Keras 3.15 (which applies the
        min(α_t, 1/sqrt(t)) cap either way).
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adafactor(learning_rate=0.5)
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = min(0.5, 1)
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: U = sign(g)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-1.,  1.],
           [-1.,  1.]], dtype=float32)
    """
    del relative_step  # Keras 3.15 ignores it too
    steps = [
        scale_by_adafactor(beta_2_decay, epsilon_1, epsilon_2, clip_threshold),
        scale_by_learning_rate(relative_step_size(learning_rate)),
    ]
    return keras_optimizer(steps, learning_rate, weight_decay, options)


@dataclass(frozen=True)
class _ExcludeLayers(Rule):
    """``None`` or a sequence of regular expressions (searched in each parameter's path),
    returned as a list."""

    kind: ClassVar[str] = "patterns"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return []
        ok = not isinstance(value, (str, bytes)) and isinstance(value, Sequence)
        keywords: list[Any] = list(value) if ok else []
        if not ok or not all(isinstance(k, str) for k in keywords):
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be a list of strings "
                "(regular expressions searched in each parameter's path)."
            )
        for keyword in keywords:
            try:
                re.compile(keyword)
            except re.error as error:
                raise UnnamedValueError(
                    f"{name} has an invalid regular expression {keyword!r}: {error}."
                ) from error
        return keywords

    def bad(self) -> dict[str, Any]:
        return {"str": "dense", "int-entry": ["dense", 3], "bad-regex": ["("]}


def _uses_adam(exclude_layers: Sequence[str], exclude_embeddings: bool) -> Any:
    """Keras' ``_should_use_adamw``, on a leaf's path as Keras writes a variable's."""

    def uses_adam(name: str, leaf: Any) -> bool:
        return (
            len(getattr(leaf, "shape", ())) != 2
            or (exclude_embeddings and "embedding" in name.lower())
            or any(re.search(keyword, name) for keyword in exclude_layers)
        )

    return uses_adam


KERAS_MUON_EPS = 1e-7  # Keras' Newton–Schulz normalization ε (not an argument there)


@keras_preset(
    learning_rate=LEARNING_RATE,
    adam_beta_1=unit_interval(schedule=True),
    adam_beta_2=unit_interval(),
    adam_weight_decay=WEIGHT_DECAY,
    epsilon=nonnegative(),
    weight_decay=WEIGHT_DECAY,
    exclude_layers=_ExcludeLayers(),
    exclude_embeddings=flag(),
    muon_a=real(),
    muon_b=real(),
    muon_c=real(),
    adam_lr_ratio=nonnegative(),
    momentum=MUON_RULES["momentum"],
    ns_steps=MUON_RULES["ns_steps"],
    nesterov=flag(),
    rms_rate=optional(nonnegative()),
)
def Muon(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    adam_beta_1: ScalarOrSchedule = 0.9,
    adam_beta_2: Scalar = 0.999,
    adam_weight_decay: ScalarOrSchedule | None = 0.004,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = 0.004,
    *,
    exclude_layers: Sequence[str] | None = None,
    exclude_embeddings: bool = True,
    muon_a: Scalar = 3.4445,
    muon_b: Scalar = -4.7750,
    muon_c: Scalar = 2.0315,
    adam_lr_ratio: Scalar = 1,
    momentum: ScalarOrSchedule = 0.95,
    ns_steps: int = 5,
    nesterov: bool = True,
    rms_rate: Scalar | None = 0.2,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Muon``:

    θ ← θ − θλα_t  (λ = ``weight_decay`` for Muon's leaves, ``adam_weight_decay`` else);
    Muon's leaves: m_t = μ m_{t−1} + g,  D_t = g + μ m_t (nesterov) or m_t,
    θ ← θ − α_t · rms_rate · sqrt(max(rows, cols)) · NS(D_t),  X_0 = D_t / (‖D_t‖_F + 1e-7);
    the others: Keras' AdamW step at α_t · ``adam_lr_ratio`` (``adam_beta_1``,
    ``adam_beta_2``, ε̂ = ``epsilon``).

    :func:`jopt.scale_by_muon` with Keras' switches (``ema=False``: the buffer sums; the
    iteration in the parameters' dtype) on Muon's leaves, :func:`jopt.scale_by_adam` with
    ``eps_hat=True`` on the others. A leaf takes the AdamW step when it does not have
    exactly two axes, when ``exclude_embeddings`` and its path contains "embedding" (any
    case), or when one of ``exclude_layers`` (regular expressions, ``re.search``) matches its
    path. The path is the leaf's keys in the parameter tree joined by "/", as Keras writes
    a variable's path: ``{"dense": {"kernel": w}}`` gives ``"dense/kernel"``. The options
    after ``weight_decay`` are keyword-only here (Keras lists them after its base options).

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      adam_beta_1: AdamW's β1 in [0, 1), or a schedule.
      adam_beta_2: AdamW's β2 in [0, 1).
      adam_weight_decay: λ >= 0 (or a schedule) of the AdamW leaves, None for none.
      epsilon: AdamW's ε >= 0 (Keras' "epsilon hat").
      weight_decay: λ >= 0 (or a schedule) of Muon's leaves, None for none.
      exclude_layers: regular expressions; a leaf whose path matches one takes AdamW.
      exclude_embeddings: leaves whose path contains "embedding" take AdamW.
      muon_a: the Newton–Schulz coefficient a.
      muon_b: the Newton–Schulz coefficient b.
      muon_c: the Newton–Schulz coefficient c.
      adam_lr_ratio: the AdamW leaves' rate is α_t times this, >= 0.
      momentum: μ in [0, 1], or a schedule.
      ns_steps: the number of Newton–Schulz steps, in [0, 99].
      nesterov: Nesterov's D_t (the default) or the buffer itself.
      rms_rate: the shape factor's rate, >= 0; None: no shape factor.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Muon(learning_rate=0.1, weight_decay=None, adam_weight_decay=None)
    >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    >>> grads = {"w": jnp.array([[3.0, 0.0], [0.0, 0.5]]), "b": jnp.array([1.0, -2.0])}
    >>> updates, _ = tx.update(grads, tx.init(params), params)
    >>> updates["b"].round(4)  # AdamW's first step: −α·sign(g) (ε̂ aside)
    Array([-0.1,  0.1], dtype=float32)
    >>> jnp.diag(updates["w"]).round(4)  # −α·0.2·sqrt(2)·NS(D)
    Array([-0.0202, -0.0295], dtype=float32)
    """
    uses_adam = _uses_adam(exclude_layers or [], exclude_embeddings)

    def adam_leaves(tree: Any) -> Any:
        return jax.tree_util.tree_map_with_path(lambda p, x: uses_adam(path_name(p), x), tree)

    def muon_leaves(tree: Any) -> Any:
        return jax.tree.map(lambda adam: not adam, adam_leaves(tree))

    muon = scale_by_muon(
        momentum,
        nesterov=nesterov,
        ns_coefficients=(muon_a, muon_b, muon_c),
        ns_steps=ns_steps,
        eps=KERAS_MUON_EPS,
        ema=False,
        adjust_lr="none" if rms_rate is None else "match_rms_adamw",
        rms_rate=0.2 if rms_rate is None else rms_rate,
    )
    adam = scale_by_adam(adam_beta_1, adam_beta_2, epsilon, eps_hat=True)
    adam_lr = scaled(learning_rate, adam_lr_ratio)
    steps: list[optax.GradientTransformation] = [
        optax.masked(optax.chain(muon, scale_by_learning_rate(learning_rate)), muon_leaves),
        optax.masked(optax.chain(adam, scale_by_learning_rate(adam_lr)), adam_leaves),
    ]

    def leaf_weight_decay(name: str, leaf: Any) -> Any:
        # Keras' Muon._apply_weight_decay: each leaf its group's λ, at α_t (not
        # α_t·adam_lr_ratio), on the parameters before the step, like the base decay.
        return adam_weight_decay if uses_adam(name, leaf) else weight_decay

    decays = requested(weight_decay) or requested(adam_weight_decay)
    return keras_optimizer(
        steps,
        learning_rate,
        weight_decay,
        options,
        leaf_weight_decay=leaf_weight_decay if decays else None,
    )
