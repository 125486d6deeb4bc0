"""``keras.optimizers.Muon``: Muon for the matrices, Keras' AdamW step for the rest."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Unpack

import jax
import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._muon import _scale_by_muon, check_muon, scaled
from jopt._validation import check_flag, check_nonnegative, check_optional, check_range
from jopt.compat.keras._common import (
    KerasOptions,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)
from jopt.compat.keras._options import path_name


def _uses_adam(exclude_layers: Sequence[str], exclude_embeddings: bool):
    """Keras' ``_should_use_adamw``, on a leaf's path as Keras writes a variable's."""

    def uses_adam(name: str, leaf: Any) -> bool:
        return (
            len(getattr(leaf, "shape", ())) != 2
            or (exclude_embeddings and "embedding" in name.lower())
            or any(re.search(keyword, name) for keyword in exclude_layers)
        )

    return uses_adam


def _check_exclude_layers(call: str, exclude_layers: Any) -> list[str]:
    if exclude_layers is None:
        return []
    ok = not isinstance(exclude_layers, (str, bytes)) and isinstance(exclude_layers, Sequence)
    keywords: list[Any] = [] if not ok else list(exclude_layers)
    if not ok or not all(isinstance(k, str) for k in keywords):
        raise TypeError(
            f"{call}: exclude_layers={exclude_layers!r} is invalid; exclude_layers must be a "
            "list of strings (regular expressions searched in each parameter's path)."
        )
    for keyword in keywords:
        try:
            re.compile(keyword)
        except re.error as error:
            raise ValueError(
                f"{call}: exclude_layers has an invalid regular expression {keyword!r}: {error}."
            ) from error
    return keywords


@with_options
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
    iteration in the parameters' dtype; (a, b, c) = ``muon_a``, ``muon_b``, ``muon_c``;
    ``rms_rate=None``: no shape factor). A leaf takes the AdamW step when it does not have
    exactly two axes, when ``exclude_embeddings`` and its path contains "embedding" (any
    case), or when one of ``exclude_layers`` (regular expressions, ``re.search``) matches its
    path. The path is the leaf's keys in the parameter tree joined by "/", as Keras writes
    a variable's path: ``{"dense": {"kernel": w}}`` gives ``"dense/kernel"``. The options
    after ``weight_decay`` are keyword-only here (Keras lists them after its base options).

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
    call = "jopt.compat.keras.Muon"
    lr = keras_learning_rate(call, learning_rate)
    adam_names: dict[str, Any] = dict(b1_name="adam_beta_1", b2_name="adam_beta_2")
    adam_names.update(eps_name="epsilon")
    check_adam(call, adam_beta_1, adam_beta_2, epsilon, **adam_names)
    check_optional(call, "adam_weight_decay", adam_weight_decay, schedule=True)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    keywords = _check_exclude_layers(call, exclude_layers)
    check_flag(call, "exclude_embeddings", exclude_embeddings)
    check_nonnegative(call, "adam_lr_ratio", adam_lr_ratio)
    check_optional(call, "rms_rate", rms_rate)
    for name, value in (("muon_a", muon_a), ("muon_b", muon_b), ("muon_c", muon_c)):
        check_range(call, name, value)
    coefficients = check_muon(
        call, momentum, (muon_a, muon_b, muon_c), ns_steps, 1e-7, nesterov=nesterov
    )
    uses_adam = _uses_adam(keywords, exclude_embeddings)

    def adam_leaves(tree):
        return jax.tree_util.tree_map_with_path(lambda p, x: uses_adam(path_name(p), x), tree)

    def muon_leaves(tree):
        return jax.tree.map(lambda adam: not adam, adam_leaves(tree))

    muon = _scale_by_muon(
        call,
        momentum,
        coefficients,
        ns_steps,
        1e-7,
        nesterov=nesterov,
        ema=False,
        adjust_lr="none" if rms_rate is None else "match_rms_adamw",
        rms_rate=0.2 if rms_rate is None else rms_rate,
    )
    adam = scale_by_adam_moments(call, b1=adam_beta_1, b2=adam_beta_2, eps=epsilon, eps_hat=True)
    steps: list[optax.GradientTransformation] = [
        optax.masked(optax.chain(muon, lr_step(call, lr)), muon_leaves),
        optax.masked(optax.chain(adam, lr_step(call, scaled(lr, adam_lr_ratio))), adam_leaves),
    ]

    def leaf_weight_decay(name: str, leaf: Any) -> Any:
        # Keras' Muon._apply_weight_decay: each leaf its group's λ, at α_t (not
        # α_t·adam_lr_ratio), on the parameters before the step, like the base decay.
        return adam_weight_decay if uses_adam(name, leaf) else weight_decay

    decays = requested(weight_decay) or requested(adam_weight_decay)
    return keras_optimizer(
        call,
        steps,
        lr,
        weight_decay,
        dict(options),
        leaf_weight_decay=leaf_weight_decay if decays else None,
    )
