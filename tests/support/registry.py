"""One registry of every optimizer configuration jopt ships; contract tests run over all of it.

A case names a public factory and its arguments; ``case.make(lr)`` builds the tested
transformation at a learning rate (a primitive is chained with
``jopt.scale_by_learning_rate``), and ``case.build(wrapper, lr)`` builds it through a
factory wrapper such as ``optax.inject_hyperparams``. So the same case serves the
contract checks, the vmap-over-learning-rates check, the convergence check and the
inject_hyperparams layout check.

The registry finds every public factory by itself (:func:`discover`: each name in the
``__all__`` of ``jopt``, ``jopt.compat.torch`` and ``jopt.compat.keras`` whose function
returns a gradient transformation). ``LISTED`` holds the configurations written out here
(the learning rate a case converges at, the flags its math implies, how to build a
wrapper); a discovered factory without a listed case gets a default one (its defaults,
learning rate 0.1), so a new factory meets every registry-wide test the moment it is
exported, and only ``EXCLUDED`` (each with its reason) is left out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import optax

import jopt
import jopt.compat.dadaptation as jd
import jopt.compat.keras as jk
import jopt.compat.prodigyopt as jpo
import jopt.compat.schedulefree as sf
import jopt.compat.torch as jt

MASK = {"w": True, "b": False, "f": True, "s": False}  # the contract trees' leaves
Q8 = jopt.quantized("int8", block_size=4, min_size=0)
Q4 = jopt.quantized("int4", block_size=4, min_size=0)
QF8 = jopt.quantized("fp8", block_size=4, min_size=0)


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable  # the public jopt callable this case exercises
    kwargs: dict = field(default_factory=dict)  # its arguments besides the learning rate
    lr: float = 0.1  # a learning rate at which the case converges on the test quadratic
    # The factory's learning-rate argument; None: the factory takes none, and the case
    # is factory(**kwargs) followed by jopt.scale_by_learning_rate(lr).
    lr_arg: str | None = "learning_rate"
    # With lr_arg None: the factory's arguments that carry the lr, made from it (the
    # inner optimizers of a wrapper such as jopt.compat.keras.LossScaleOptimizer).
    lr_kwargs: Callable[[Any], dict] | None = None
    # With lr_arg None: the factory's positional arguments, made from the lr (the
    # transformations jopt.chain chains).
    lr_args: Callable[[Any], tuple] | None = None
    # Builds the tested transformation from factory(...) and the lr, when it is more
    # than the factory (e.g. a transform that comes after an optimizer).
    around: Callable[[optax.GradientTransformation, Any], optax.GradientTransformation] | None = (
        None
    )
    maximize: bool = False  # the case climbs its objective
    needs_value: bool = False  # update() takes value=<the monitored loss>
    # Properties tests/test_properties.py checks, decided from the case's math (and
    # checked both ways there, so a wrong or missing flag fails):
    # a weight-decay term (or FTRL's pull to the origin) moves the params even at zero
    # gradient, towards zero (from the first update that moves them)
    decays: bool = False
    # The rate jopt.get_learning_rate reads after update k + 1 under a schedule ``rate``
    # (count -> lr); None: rate(k). ASGD records its η_t, which the lr sits inside.
    recorded_rate: Callable[[Callable[[int], float], int], float] | None = None
    scale_invariant: bool = False  # with eps = 0 the update ignores a gradient scale c > 0

    def build(self, wrap: Callable[[Callable], Callable], lr: Any) -> optax.GradientTransformation:
        """The case's transformation at ``lr``, its factory passed through ``wrap``."""
        factory = wrap(self.factory)
        if self.lr_args is not None:
            tx = factory(*self.lr_args(lr), **self.kwargs)
        elif self.lr_kwargs is not None:
            tx = factory(**self.kwargs, **self.lr_kwargs(lr))
        elif self.lr_arg is None:
            tx = factory(**self.kwargs)
            if self.around is None:
                return optax.chain(tx, jopt.scale_by_learning_rate(lr))
        else:
            tx = factory(**self.kwargs, **{self.lr_arg: lr})
        return tx if self.around is None else self.around(tx, lr)

    def make(self, lr: Any) -> optax.GradientTransformation:
        return self.build(lambda f: f, lr)


def _asgd_eta(rate, k, lambd, alpha):
    # PyTorch's η for update k + 1: computed after update k with that update's lr.
    lr = rate(max(k - 1, 0))
    return lr / (1.0 + lambd * lr * k) ** alpha


def _after_sgd(tx, lr):
    return optax.chain(jopt.sgd(lr, 0.5), tx)


def _then_rate(tx, lr):  # a step that already descends, scaled by lr (Rprop has no rate)
    return optax.chain(tx, jopt.scale_by_learning_rate(lr, flip_sign=False))


def _after_momentum(tx, lr):
    return optax.chain(jopt.scale_by_momentum(0.5), jopt.scale_by_learning_rate(lr), tx)


def _b1_schedule(count):
    return 0.9 - jopt.schedules.step_lr(0.1, step_size=10, gamma=0.5)(count)


def _matrices_else(other):
    """Muon's matrix-only transforms on the 2-D leaves, ``other(lr)`` on the rest (PyTorch's
    documented recipe: a second optimizer for the biases and scalars)."""

    def around(tx, lr):
        labels = lambda p: jax.tree.map(lambda x: "muon" if jnp.ndim(x) == 2 else "rest", p)  # noqa: E731
        return optax.multi_transform({"muon": tx, "rest": other(lr)}, labels)

    return around


def _as_built(tx, lr):  # the factory's transformation as it is
    del lr
    return tx


def _then_scaled(tx, lr):  # a direction that reads the rate, then scaled by it
    return optax.chain(tx, jopt.scale_by_learning_rate(lr))


def _muon_else_adam(tx, lr):
    return _matrices_else(lambda lr: jopt.adam(lr))(
        optax.chain(tx, jopt.scale_by_learning_rate(lr)), lr
    )


def _radam_rect(rate, k, b2=0.999):
    # schedule-free RAdam records α·r_t (0 while ρ_t <= 4: its silent phase), t = k + 1
    t = k + 1
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho <= 4:
        return 0.0
    return (
        rate(k) * ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5
    )


LISTED = [
    Case("gd", jopt.gd),
    Case(
        "chain",
        jopt.chain,
        lr_arg=None,
        lr_args=lambda lr: (jopt.scale_by_adam(), jopt.scale_by_learning_rate(lr)),
        lr=0.05,
        scale_invariant=True,
    ),
    Case("momentum", jopt.momentum, dict(beta=0.9)),
    Case("nesterov", jopt.nesterov, dict(beta=0.9)),
    Case("sgd", jopt.sgd),
    Case("sgd-momentum", jopt.sgd, dict(momentum=0.9, dampening=0.1), 0.05),
    Case(
        "sgd-nesterov-wd",
        jopt.sgd,
        dict(momentum=0.9, nesterov=True, weight_decay=1e-2),
        0.05,
        decays=True,
    ),
    Case("sgd-maximize", jopt.sgd, dict(momentum=0.5, maximize=True), 0.05, maximize=True),
    Case("adagrad", jopt.adagrad, lr=0.5, scale_invariant=True),
    Case("adagrad-deck", jopt.adagrad, dict(eps=0.0, initial_accumulator_value=0.1), 0.5),
    Case("rmsprop", jopt.rmsprop, lr=0.02, scale_invariant=True),
    Case(
        "rmsprop-centered-momentum",
        jopt.rmsprop,
        dict(rho=0.9, centered=True, momentum=0.5, eps_in_sqrt=False),
        0.01,
        scale_invariant=True,
    ),
    Case("adam", jopt.adam, lr=0.05, scale_invariant=True),
    Case(
        "adam-deck-amsgrad",
        jopt.adam,
        dict(eps_in_sqrt=True, amsgrad=True),
        0.05,
        scale_invariant=True,
    ),
    Case("adamw", jopt.adamw, dict(weight_decay=1e-2), 0.05, decays=True, scale_invariant=True),
    Case(
        "adam-bf16-state",
        jopt.adam,
        dict(mu_dtype="bfloat16", nu_dtype="bfloat16"),
        0.05,
        scale_invariant=True,
    ),
    # Quantized moments (issue 20): blocks of 4 with no minimum size, so the contract
    # trees' w (4, 4) and f (2, 2) are quantized, b (5,) and s keep full precision
    Case(
        "adam-int8-state",
        jopt.adam,
        dict(mu_dtype=Q8, nu_dtype=Q8),
        0.05,
        scale_invariant=True,
    ),
    Case("lion-int4-state", jopt.lion, dict(mu_dtype=Q4), 0.05, scale_invariant=True),
    Case("sgd-fp8-state", jopt.sgd, dict(momentum=0.9, mu_dtype=QF8), 0.05),
    Case("scale_by_learning_rate", jopt.scale_by_learning_rate),
    Case("scale_by_momentum", jopt.scale_by_momentum, dict(beta=0.5), lr_arg=None),
    Case("scale_by_nesterov", jopt.scale_by_nesterov, dict(beta=0.5), lr_arg=None),
    Case("scale_by_trace", jopt.scale_by_trace, dict(momentum=0.5, nesterov=True), 0.05, None),
    Case(
        "scale_by_adagrad",
        jopt.scale_by_adagrad,
        dict(initial_accumulator_value=0.1, eps_in_sqrt=True),
        0.5,
        None,
    ),
    Case("scale_by_rms", jopt.scale_by_rms, dict(rho=0.9), 0.02, None, scale_invariant=True),
    Case("scale_by_stddev", jopt.scale_by_stddev, dict(rho=0.9), 0.01, None, scale_invariant=True),
    Case("scale_by_adam", jopt.scale_by_adam, lr=0.05, lr_arg=None, scale_invariant=True),
    Case("scale_by_amsgrad", jopt.scale_by_amsgrad, lr=0.05, lr_arg=None, scale_invariant=True),
    Case(
        "add_decayed_weights",
        jopt.add_decayed_weights,
        dict(weight_decay=0.01, mask=MASK),
        lr_arg=None,
        decays=True,
    ),
    Case(
        "decoupled_weight_decay",
        jopt.decoupled_weight_decay,
        dict(weight_decay=0.01, mask=MASK),
        around=_after_momentum,
        decays=True,
    ),
    Case("adafactor", jopt.adafactor, lr=0.1, scale_invariant=True),
    Case(
        "adafactor-wd-absolute-step",
        jopt.adafactor,
        dict(relative_step=False, weight_decay=1e-3, eps1=None),
        0.1,
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "scale_by_adafactor",
        jopt.scale_by_adafactor,
        dict(eps_clamp=True, eps1=None),
        0.1,
        None,
        scale_invariant=True,
    ),
    Case("lion", jopt.lion, dict(weight_decay=1e-3), 0.01, decays=True, scale_invariant=True),
    Case("scale_by_lion", jopt.scale_by_lion, lr=0.01, lr_arg=None, scale_invariant=True),
    Case("lamb", jopt.lamb, dict(weight_decay=1e-3), 0.02, decays=True, scale_invariant=True),
    Case(
        "scale_by_trust_ratio",
        jopt.scale_by_trust_ratio,
        lr=0.02,
        lr_arg=None,
        scale_invariant=True,
    ),
    Case("muon", jopt.muon, dict(weight_decay=1e-3), 0.02, decays=True, scale_invariant=True),
    Case(
        "muon-bf16-ns", jopt.muon, dict(nesterov=False, ns_dtype="bfloat16"), scale_invariant=True
    ),
    Case(
        "scale_by_muon",
        jopt.scale_by_muon,
        dict(ema=False, eps_clamp=True, adjust_lr="match_rms_adamw"),
        0.02,
        None,
        around=_muon_else_adam,
        scale_invariant=True,
    ),
    Case(
        "reduce_lr_on_plateau",
        jopt.reduce_lr_on_plateau,
        dict(patience=2, factor=0.5),
        lr_arg=None,
        around=_after_sgd,
        needs_value=True,
    ),
    # Placed last in a chain: they decide how an update lands on a bfloat16 parameter
    # (issue 20); the contract trees' other leaves pass through them
    Case(
        "stochastic-rounding",
        jopt.stochastic_rounding,
        dict(seed=3),
        lr_arg=None,
        around=_after_momentum,
    ),
    Case("kahan-summation", jopt.kahan_summation, lr_arg=None, around=_after_momentum),
    # Adadelta and the Adam family (issues 14, 15)
    Case("adadelta", jopt.adadelta, dict(eps=1e-4), 1.0, scale_invariant=True),
    Case("adamax", jopt.adamax, lr=0.05, scale_invariant=True),
    Case("nadam", jopt.nadam, lr=0.05, scale_invariant=True),
    Case("radam", jopt.radam, lr=0.05),
    Case(
        "scale_by_adadelta",
        jopt.scale_by_adadelta,
        dict(rho=0.9, eps=1e-4),
        1.0,
        None,
        scale_invariant=True,
    ),
    Case(
        "scale_by_adamax-keras-eps-bf16-state",
        jopt.scale_by_adamax,
        dict(eps_in_max=False, mu_dtype="bfloat16", nu_dtype="bfloat16"),
        0.05,
        None,
        scale_invariant=True,
    ),
    Case(
        "scale_by_nadam-keras-b1-schedule",
        jopt.scale_by_nadam,
        dict(momentum_decay=1.0, b1=_b1_schedule, mu_dtype="bfloat16"),
        0.05,
        None,
        scale_invariant=True,
    ),
    Case(
        "scale_by_radam-b1-schedule-threshold",
        jopt.scale_by_radam,
        dict(b1=_b1_schedule, threshold=4.0),
        0.05,
        None,
    ),
    # Issue 21: the Adam family and MADGRAD (pytorch_optimizer's references)
    Case("adabelief", jopt.adabelief, lr=0.05),
    Case(
        "adabelief-rectify-wd",
        jopt.adabelief,
        dict(rectify=True, weight_decay=1e-2),
        0.05,
        decays=True,
    ),
    Case(
        "scale_by_belief-nesterov-b1-schedule",
        jopt.scale_by_belief,
        dict(nesterov=True, b1=_b1_schedule),
        0.05,
        None,
    ),
    # Yogi's m_0 = v_0 = 1e-6 moves θ at zero gradient: the cases start them at 0
    Case("yogi", jopt.yogi, dict(initial_accumulator_value=0.0), 0.05, scale_invariant=True),
    Case(
        "scale_by_yogi",
        jopt.scale_by_yogi,
        dict(initial_accumulator_value=0.0),
        0.05,
        None,
        scale_invariant=True,
    ),
    Case("adan", jopt.adan, dict(weight_decay=1e-2), 0.05, decays=True, scale_invariant=True),
    Case(
        "adan-optax",
        jopt.adan,
        dict(weight_decay=1e-2, proximal=False, optax_weights=True),
        0.05,
        decays=True,
        scale_invariant=True,
    ),
    Case("scale_by_adan", jopt.scale_by_adan, lr=0.05, lr_arg=None, scale_invariant=True),
    Case("adopt", jopt.adopt, lr=0.05, scale_invariant=True),
    Case(
        "scale_by_adopt", jopt.scale_by_adopt, dict(nesterov=True), 0.05, None, scale_invariant=True
    ),
    Case("ademamix", jopt.ademamix, dict(alpha=2.0, b3=0.99), 0.02, scale_invariant=True),
    Case(
        "ademamix-warmup-wd",
        jopt.ademamix,
        dict(alpha=2.0, t_alpha_beta3=5.0, weight_decay=1e-2),
        0.02,
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "scale_by_ademamix",
        jopt.scale_by_ademamix,
        dict(alpha=2.0, b3=0.99),
        0.02,
        None,
        scale_invariant=True,
    ),
    Case(
        "simplified_ademamix",
        jopt.simplified_ademamix,
        dict(b1=0.9, alpha=1.0),
        0.005,
        scale_invariant=True,
    ),
    Case(
        "scale_by_simplified_ademamix",
        jopt.scale_by_simplified_ademamix,
        dict(b1=0.9),
        0.005,
        None,
        scale_invariant=True,
    ),
    Case("novograd", jopt.novograd, lr=0.05, scale_invariant=True),
    Case(
        "scale_by_novograd",
        jopt.scale_by_novograd,
        dict(weight_decay=1e-2, grad_averaging=True),
        0.05,
        None,
        decays=True,
        scale_invariant=True,  # λθ joins the normalized gradient g/‖g‖
    ),
    Case("amsgrad", jopt.amsgrad, lr=0.05, scale_invariant=True),
    Case(
        "amsgrad-optax-max",
        jopt.amsgrad,
        dict(max_of_corrected=True, bias_correction_mu=False),
        0.05,
        scale_invariant=True,
    ),
    Case("adamaxw", jopt.adamaxw, lr=0.05, decays=True, scale_invariant=True),
    Case("nadamw", jopt.nadamw, lr=0.05, decays=True, scale_invariant=True),
    Case("acprop", jopt.acprop, dict(weight_decay=1e-2), 0.05, decays=True),
    Case("scale_by_acprop", jopt.scale_by_acprop, lr=0.05, lr_arg=None),
    Case("madgrad", jopt.madgrad, dict(weight_decay=1e-3), 0.05, decays=True),
    Case("scale_by_madgrad", jopt.scale_by_madgrad, lr=0.05),
    Case(
        "torch.Adadelta",
        jt.Adadelta,
        dict(eps=1e-5, weight_decay=1e-3),
        0.5,
        "lr",
        decays=True,
        scale_invariant=True,
    ),
    Case("torch.Adamax", jt.Adamax, dict(weight_decay=1e-3), 0.05, "lr", decays=True),
    Case(
        "torch.NAdam",
        jt.NAdam,
        dict(weight_decay=1e-3, decoupled_weight_decay=True),
        0.05,
        "lr",
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "torch.RAdam-maximize",
        jt.RAdam,
        dict(weight_decay=1e-3, maximize=True),
        0.05,
        "lr",
        maximize=True,
        decays=True,
    ),
    Case(
        "keras.Adadelta",
        jk.Adadelta,
        dict(epsilon=1e-4, weight_decay=1e-3),
        1.0,
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "keras.Adamax", jk.Adamax, dict(weight_decay=1e-3), 0.05, decays=True, scale_invariant=True
    ),
    Case("keras.Nadam", jk.Nadam, dict(weight_decay=1e-3), 0.05, decays=True, scale_invariant=True),
    # Rprop's learning_rate is its initial step size, a number: lr scales its steps here.
    Case(
        "rprop",
        jopt.rprop,
        dict(learning_rate=0.05),
        1.0,
        None,
        around=_then_rate,
        scale_invariant=True,
    ),
    Case(
        "scale_by_rprop",
        jopt.scale_by_rprop,
        dict(learning_rate=0.05, eta_plus=1.3),
        1.0,
        None,
        scale_invariant=True,
    ),
    Case(
        "asgd",
        jopt.asgd,
        dict(lambd=1e-3, t0=2.0),
        0.05,
        decays=True,
        recorded_rate=lambda rate, k: _asgd_eta(rate, k, 1e-3, 0.75),
    ),
    Case(
        "swa",
        jopt.swa,
        dict(start=1, every=2),
        lr_arg=None,
        lr_kwargs=lambda lr: dict(tx=jopt.sgd(lr, 0.5)),
    ),
    Case(
        "swa-ema",
        jopt.swa,
        dict(decay=0.9),
        lr_arg=None,
        lr_kwargs=lambda lr: dict(tx=jopt.adam(lr)),
    ),
    # jopt.compat presets (tests/test_compat_*.py check every public name is here)
    Case(
        "torch.SGD",
        jt.SGD,
        dict(momentum=0.9, nesterov=True, weight_decay=1e-2),
        0.05,
        "lr",
        decays=True,
    ),
    Case("torch.Adagrad", jt.Adagrad, dict(initial_accumulator_value=0.1), 0.5, "lr"),
    Case(
        "torch.RMSprop",
        jt.RMSprop,
        dict(momentum=0.5, centered=True, weight_decay=1e-3),
        0.01,
        "lr",
        decays=True,
    ),
    Case("torch.Adam", jt.Adam, dict(amsgrad=True, weight_decay=1e-3), 0.05, "lr", decays=True),
    Case(
        "torch.AdamW-maximize",
        jt.AdamW,
        dict(maximize=True),
        0.05,
        "lr",
        maximize=True,
        decays=True,  # AdamW's default weight_decay=0.01
        scale_invariant=True,
    ),
    Case(
        "keras.SGD",
        jk.SGD,
        dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
        0.05,
        decays=True,
    ),
    Case("keras.Adagrad", jk.Adagrad, dict(weight_decay=1e-3), 0.5, decays=True),
    Case(
        "keras.RMSprop",
        jk.RMSprop,
        dict(momentum=0.5, centered=True, weight_decay=1e-3),
        0.01,
        decays=True,
        scale_invariant=True,
    ),
    Case("keras.Adam", jk.Adam, dict(amsgrad=True), 0.05, scale_invariant=True),
    Case("keras.AdamW", jk.AdamW, lr=0.05, decays=True, scale_invariant=True),  # default decay
    Case(
        "torch.Adafactor",
        jt.Adafactor,
        dict(weight_decay=1e-3),
        0.1,
        "lr",
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "torch.Muon",
        jt.Muon,
        dict(adjust_lr_fn="match_rms_adamw"),
        0.02,
        "lr",
        around=_matrices_else(lambda lr: jt.AdamW(lr)),
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "keras.Adafactor",
        jk.Adafactor,
        dict(weight_decay=1e-3),
        0.1,
        decays=True,
        scale_invariant=True,
    ),
    Case("keras.Lion", jk.Lion, dict(weight_decay=1e-3), 0.01, decays=True, scale_invariant=True),
    Case("keras.Lamb", jk.Lamb, dict(weight_decay=1e-3), 0.02, decays=True, scale_invariant=True),
    Case(
        "keras.Muon", jk.Muon, dict(exclude_layers=["f"]), 0.02, decays=True, scale_invariant=True
    ),
    Case(
        "torch.ASGD",
        jt.ASGD,
        dict(t0=2.0, weight_decay=1e-3),
        0.05,
        "lr",
        decays=True,
        recorded_rate=lambda rate, k: _asgd_eta(rate, k, 1e-4, 0.75),
    ),
    Case(
        "torch.Rprop",
        jt.Rprop,
        dict(lr=0.05, etas=(0.4, 1.3), maximize=True),
        1.0,
        None,
        around=_then_rate,
        maximize=True,
        scale_invariant=True,
    ),
    # Issue 15: Keras' base options, Ftrl, ScheduleFreeAdamW, LossScaleOptimizer, MultiOptimizer
    # FTRL computes θ from its accumulators (θ = (clip(z, ±λ1) − z)/q), and z starts at 0:
    # at zero gradient the first step lands θ on 0 (with l2_shrinkage, a hair past it).
    Case("scale_by_ftrl", jopt.scale_by_ftrl, dict(beta=0.1, l2_shrinkage=1e-4), 1.0, decays=True),
    Case(
        "keras.Ftrl",
        jk.Ftrl,
        dict(l1_regularization_strength=1e-4, weight_decay=1e-3),
        1.0,
        decays=True,
    ),
    # Decoupled decay, Adam-normalized z steps (scale-free at ε = 0). At zero gradient the
    # first step puts θ back on x_1 = z_1 = θ_0 (the decay undone), the next ones decay.
    Case(
        "keras.ScheduleFreeAdamW",
        jk.ScheduleFreeAdamW,
        dict(warmup_steps=5, weight_decay=1e-3),
        0.05,
        decays=True,
        scale_invariant=True,
    ),
    Case(
        "keras.Adam-options",
        jk.Adam,
        dict(
            global_clipnorm=10.0,
            use_ema=True,
            ema_momentum=0.5,
            ema_overwrite_frequency=7,
            gradient_accumulation_steps=2,
            loss_scale_factor=2.0,
            weight_decay=1e-3,
            # the contract tree's float16 leaf; no key of the properties' random trees
            # (a, b, c): a tree whose every leaf is excluded would have nothing to decay
            exclude_from_weight_decay=["f"],
        ),
        0.05,
        # the first call only accumulates, the second decays; Adam at ε = 0 with a
        # decoupled decay is scale-free, and the clip norm 10 is above every gradient
        # the properties draw (|g| <= 2, at most 18 entries), so it never clips
        decays=True,
        scale_invariant=True,
    ),
    Case("keras.SGD-clipnorm-ema", jk.SGD, dict(clipnorm=10.0, use_ema=True), 0.05),
    # RMSprop at ε = 0 is scale-free; the clip value 10 is above every drawn |g| <= 2
    Case("keras.RMSprop-clipvalue", jk.RMSprop, dict(clipvalue=10.0), 0.01, scale_invariant=True),
    Case(
        "keras.LossScaleOptimizer",
        jk.LossScaleOptimizer,
        dict(initial_scale=8.0, dynamic_growth_steps=100),
        lr_arg=None,
        lr_kwargs=lambda lr: dict(inner_optimizer=jk.Adam(lr, loss_scale_factor=4.0)),
        lr=0.05,
    ),
    # Issue 21: optax's optimizers (sign, layer-wise, SM3, Polyak, noise, optimistic)
    # a sign step is ±lr per coordinate: a small lr settles within the tolerance
    Case("sign_sgd", jopt.sign_sgd, lr=0.01, scale_invariant=True),
    Case("signum", jopt.signum, dict(beta=0.9), 0.01, scale_invariant=True),
    Case("scale_by_sign", jopt.scale_by_sign, lr=0.01, lr_arg=None, scale_invariant=True),
    # LARS' ratio on every leaf (its default skips the ndim <= 1 leaves, a mix the random
    # trees would make scale-invariant or not by chance); without decay a step is
    # η‖θ‖ g/‖g‖: scale-free
    Case(
        "lars",
        jopt.lars,
        dict(trust_coefficient=0.02, weight_decay_mask=True, trust_ratio_mask=True),
        0.1,
        scale_invariant=True,
    ),
    Case(
        "scale_by_lars",
        jopt.scale_by_lars,
        dict(trust_coefficient=0.2, weight_decay_mask=True, trust_ratio_mask=True),
        0.1,
        None,
        scale_invariant=True,
    ),
    Case("sm3", jopt.sm3, lr=0.5, scale_invariant=True),
    Case(
        "scale_by_sm3",
        jopt.scale_by_sm3,
        dict(b1=0.5, b2=0.9),
        0.1,
        None,
        scale_invariant=True,
    ),
    # Fromage's step has the norm α‖θ‖ and shrinks θ by sqrt(1 + α²): it moves θ towards
    # zero at zero gradient, and settles within α‖θ‖ of the minimum; g enters only as g/‖g‖
    Case("fromage", jopt.fromage, lr=0.02, decays=True, scale_invariant=True),
    Case("scale_by_fromage", jopt.scale_by_fromage, lr=0.02, lr_arg=None, scale_invariant=True),
    Case(
        "polyak_sgd",
        jopt.polyak_sgd,
        dict(max_learning_rate=0.1),
        1.0,
        lr_arg="scaling",
        needs_value=True,
    ),
    Case(
        "polyak_sgd-scaled",
        jopt.polyak_sgd,
        dict(max_learning_rate=0.2, variant="sps+", scaled_norm=True),
        lr_arg="scaling",
        lr=0.5,
        needs_value=True,
    ),
    Case(
        "scale_by_polyak",
        jopt.scale_by_polyak,
        dict(max_learning_rate=0.5),
        0.2,
        None,
        needs_value=True,
    ),
    # The registry's properties take a deterministic update: η = 0 keeps the noise path
    # (drawn, scaled by σ = 0); tests/algorithms/sgd/test_noisy.py checks the noise itself
    Case("noisy_sgd", jopt.noisy_sgd, dict(eta=0.0)),
    Case("add_noise", jopt.add_noise, dict(eta=0.0), lr_arg=None),
    Case("optimistic_gradient_descent", jopt.optimistic_gradient_descent, lr=0.05),
    Case(
        "scale_by_optimistic_gradient",
        jopt.scale_by_optimistic_gradient,
        lr=0.05,
        lr_arg=None,
    ),
    Case("optimistic_adam", jopt.optimistic_adam, lr=0.02, scale_invariant=True),
    Case(
        "optimistic_adam-optax",
        jopt.optimistic_adam,
        dict(nesterov=True, repeat_first=True),
        0.02,
        scale_invariant=True,
    ),
    Case(
        "keras.MultiOptimizer",
        jk.MultiOptimizer,
        dict(loss_scale_factor=2.0),
        lr_arg=None,
        lr_kwargs=lambda lr: dict(
            optimizer_map=jk.OptimizerMap(
                jk.SGD(lr, momentum=0.5), {"b|s": jk.Adam(lr, use_ema=True)}
            )
        ),
        lr=0.05,
    ),
    Case(
        "schedule_free_radam",
        jopt.schedule_free_radam,
        recorded_rate=_radam_rect,
        scale_invariant=True,
    ),
    Case("schedule_free_adamw", jopt.schedule_free_adamw, scale_invariant=True),
    Case("schedulefree.AdamWScheduleFree", sf.AdamWScheduleFree, lr_arg="lr", scale_invariant=True),
    Case(
        "schedulefree.RAdamScheduleFree",
        sf.RAdamScheduleFree,
        lr_arg="lr",
        recorded_rate=_radam_rect,
        scale_invariant=True,
    ),
    # wrappers: the base optimizer carries the rate (the wrapper's own weights the average)
    Case(
        "schedule_free",
        jopt.schedule_free,
        lr_arg=None,
        lr_kwargs=lambda lr: dict(base_optimizer=jopt.sgd(lr), learning_rate=lr),
    ),
    Case(
        "schedulefree.ScheduleFreeWrapper",
        sf.ScheduleFreeWrapper,
        lr_arg=None,
        lr_kwargs=lambda lr: dict(base=jopt.sgd(lr), lr=lr),
    ),
    # Parameter-free and Polyak-type steps from optax.contrib (issue 21): their rates come
    # from the distance travelled (DoG, DoWG), coin betting (COCOB), the loss (MoMo) or a
    # learned scale (Mechanic)
    # η ∝ 1/‖g‖: the steps ignore the gradients' scale (but a first step set by hand)
    Case("dog", jopt.dog, dict(init_step=("distance", 0.1)), 1.0, scale_invariant=True),
    Case(
        "dowg-optax-eps",
        jopt.dowg,
        dict(init_estim_sq_dist=1e-4, eps_in_rate=True),
        1.0,
        scale_invariant=True,
    ),
    # COCOB's bets are ratios of sums of gradients: free of their scale (so of the factor
    # optax calls its learning rate)
    Case("cocob", jopt.cocob, scale_invariant=True),
    Case("scale_by_dog", jopt.scale_by_dog, dict(init_step=("learning_rate", 1.0)), 1.0, None),
    Case(
        "scale_by_dowg",
        jopt.scale_by_dowg,
        dict(init_estim_sq_dist=0.01),
        1.0,
        None,
        scale_invariant=True,
    ),
    # the bet is the whole step (w₁ + ... − w): a rate after it would break the reward
    Case("scale_by_cocob", jopt.scale_by_cocob, lr=1.0, lr_arg=None, around=_then_rate),
    Case("momo", jopt.momo, dict(weight_decay=1e-2), 0.5, needs_value=True, decays=True),
    Case(
        "momo_adam-optax-decay",
        jopt.momo_adam,
        dict(weight_decay=1e-2, optax_weight_decay=True),
        0.05,
        needs_value=True,
        decays=True,
        scale_invariant=True,  # α small: the step is capped at α/ρ_t, Adam's direction
    ),
    Case(
        "mechanize",
        jopt.mechanize,
        dict(s_init=1e-2),
        lr_arg=None,
        lr_kwargs=lambda lr: dict(base_optimizer=jopt.adam(lr)),
        lr=0.05,
        scale_invariant=True,  # Adam's steps, and a scale s = W/sqrt(v) free of g's
    ),
    # Prodigy (issue 21): d, its step size, is estimated; the rate γ scales it (1: the
    # method's own). A decoupled decay is skipped with the step at zero gradient (||s||₁ = 0).
    Case("prodigy", jopt.prodigy, lr=1.0, scale_invariant=True),
    Case(
        "prodigy-optax-l2",
        jopt.prodigy,
        dict(bias_correction=True, weight_decay=1e-3, decouple=False),
        1.0,
        decays=True,
    ),
    Case(
        "scale_by_prodigy",
        jopt.scale_by_prodigy,
        dict(safeguard_warmup=True, growth_rate=1.5, beta3=0.9),
        1.0,
        around=_then_scaled,
        scale_invariant=True,
    ),
    # prodigyopt refuses ε = 0: ``around`` (the identity) keeps it out of the ε = 0 check
    Case(
        "prodigyopt.Prodigy",
        jpo.Prodigy,
        dict(weight_decay=1e-3),
        1.0,
        "lr",
        around=_as_built,
    ),
    # D-Adaptation (issue 21): the rate is inside its moments (the state records it)
    Case("dadapt_adamw", jopt.dadapt_adamw, lr=1.0, scale_invariant=True),
    Case(
        "dadapt_adamw-optax-l2",
        jopt.dadapt_adamw,
        dict(bias_correction=True, weight_decay=1e-3, decouple=False, growth_rate=1.5),
        1.0,
        decays=True,
    ),
    Case(
        "dadaptation.DAdaptAdam",
        jd.DAdaptAdam,
        dict(weight_decay=1e-3),
        1.0,
        "lr",
        around=_as_built,
        decays=True,
    ),
    # around (the identity) keeps these out of the ε = 0 check (dadaptation refuses ε = 0)
    # and the momentum = 0 check (D-Adapt SGD at momentum 0 is dual averaging, not GD).
    # Their decay is skipped with the step at zero gradient, except AdaGrad's L2 (the
    # gradient is λθ); DAdaptLion's (θ moves before the check) is 1e-8 of θ here.
    Case(
        "dadaptation.DAdaptSGD",
        jd.DAdaptSGD,
        dict(momentum=0.5, weight_decay=1e-3),
        1.0,
        "lr",
        around=_as_built,
    ),
    Case(
        "dadaptation.DAdaptAdaGrad",
        jd.DAdaptAdaGrad,
        dict(momentum=0.5, weight_decay=1e-3),
        1.0,
        "lr",
        around=_as_built,
        decays=True,
    ),
    # a sign step of γd never settles: γ = 0.1 makes it small enough for the quadratic
    Case(
        "dadaptation.DAdaptLion",
        jd.DAdaptLion,
        dict(d0=1e-3),
        0.1,
        "lr",
        scale_invariant=True,
    ),
    Case(
        "dadaptation.DAdaptAdan",
        jd.DAdaptAdan,
        dict(weight_decay=0.0, d0=1e-3),
        1.0,
        "lr",
        around=_as_built,
    ),
    # SAM's adversarial direction g / (‖g‖ + ε): normalized descent, ignores a scale at ε = 0
    Case("normalize", jopt.normalize, lr_arg=None, scale_invariant=True),
]


# Public transformation factories the registry leaves out, with the reason.
EXCLUDED = {
    "jopt.dpsgd": (
        "its updates are per-example gradients with a leading batch axis (optax's "
        "convention): its jit and state checks run in tests/algorithms/privacy/test_dpsgd.py"
    ),
    "jopt.differentially_private_aggregate": "as jopt.dpsgd (tests/algorithms/privacy)",
    "jopt.lookahead": (
        "its params are a LookaheadParams(fast, slow) and its updates update both: its "
        "contract and jit checks run in tests/algorithms/averaging/test_lookahead.py"
    ),
    "jopt.compat.torch.LBFGS": (
        "its update needs a closure evaluating the loss (value_fn): its contract, jit and "
        "mesh checks run in tests/compat/torch/test_lbfgs.py"
    ),
    "jopt.sam": (
        "a SAM step is sync_period calls, each fed the gradient at the point the last one "
        "left (an ascent, then the outer step from the cached params): the registry's "
        "one-gradient properties and recorded rate do not hold per call; its contract and "
        "jit checks run in tests/algorithms/sharpness/test_sam.py"
    ),
    **dict.fromkeys(
        ("jopt.sophia", "jopt.scale_by_sophia", "jopt.hutchinson_estimator_diag_hessian"),
        "its update needs obj_fn= (the objective whose Hessian diagonal Hutchinson's "
        "estimator probes), which the registry does not give: its contract and jit checks "
        "run in tests/algorithms/second_order/test_sophia.py",
    ),
    **dict.fromkeys(
        ("jopt.lbfgs", "jopt.scale_by_zoom_linesearch"),
        "its update needs value=, grad= and value_fn= (the line search evaluates the "
        "objective), which the registry does not give: its contract and jit checks run in "
        "tests/algorithms/second_order/test_lbfgs.py",
    ),
    "jopt.scale_by_lbfgs": (
        "its memory stacks m differences of each parameter on a new leading axis, a layout "
        "jopt.sharding declares no placement for (neither PerParam nor Reduced), so the "
        "mesh and ZeRO checks do not apply; its contract (off the mesh), jit and the "
        "two-loop direction are checked in tests/algorithms/second_order/test_lbfgs.py"
    ),
    **dict.fromkeys(
        ("jopt.galore", "jopt.scale_by_galore"),
        "its base optimizer's moments live in the projected space (m × r or r × n, not the "
        "parameter's shape) and its projectors are n × r or m × r: jopt.sharding has no "
        "declaration for either, so the mesh and ZeRO placement checks cannot apply (the "
        "registry's off-mesh properties pass; the contract and jit run in "
        "tests/algorithms/matrix/test_galore.py)",
    ),
}
MODULES = {
    "jopt": jopt,
    "jopt.compat.torch": jt,
    "jopt.compat.keras": jk,
    "jopt.compat.schedulefree": sf,
    "jopt.compat.prodigyopt": jpo,
    "jopt.compat.dadaptation": jd,
}


def discover() -> dict[str, Callable]:
    """Every public transformation factory, by its public name: the functions in each
    module's ``__all__`` whose return annotation is a gradient transformation."""
    found = {}
    for prefix, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and "GradientTransformation" in str(
                inspect.signature(obj).return_annotation
            ):
                found[f"{prefix}.{name}"] = obj
    return found


def _short(name: str) -> str:
    return name.removeprefix("jopt.").removeprefix("compat.")


def _default_case(name: str, factory: Callable) -> Case:
    params = inspect.signature(factory).parameters
    lr_arg = next((a for a in ("learning_rate", "lr") if a in params), None)
    return Case(_short(name), factory, lr_arg=lr_arg)


_listed = {c.factory for c in LISTED}
CASES = LISTED + [
    _default_case(name, factory)
    for name, factory in discover().items()
    if factory not in _listed and name not in EXCLUDED
]

# One case per rule home: the first case of each module that defines a factory. The
# compositions with jopt's and optax's shared machinery (vmap over the rate, the
# constant-rate layout, convergence, optax.apply_if_finite, a chain of one, jit = eager)
# test rules that live in jopt._core and optax: they run once per module whose code binds
# them (tests/test_registry_contracts.py, tests/test_registry_properties.py). Every case
# keeps its own contract on a mesh, its ZeRO-1 step, its placement and its math properties.
_homes: dict[str, Case] = {}
for _c in CASES:
    _homes.setdefault(getattr(_c.factory, "__module__", _c.name), _c)
HOMES = list(_homes.values())

# Public callables that are not transformations, so not in the registry.
