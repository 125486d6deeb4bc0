"""Every optimizer optax ships has a jopt counterpart (issue 21).

The test reads ``optax.__all__`` and the public names of ``optax.contrib`` (which has no
``__all__``) and sorts each lowercase name into one of three groups:
- jopt has it under the same name;
- jopt has it under another name (``COUNTERPARTS``);
- it is not an optimizer (``NOT_OPTIMIZERS``, each with its reason): a loss, a schedule,
  a wrapper or utility that composes with jopt's optimizers as it is.

A new optax release that adds an optimizer fails here until jopt has it (or the name is
listed with a reason); an entry that goes stale (optax drops it, or jopt gains it) fails too.
Capitalized names are types and states, not optimizers: each jopt optimizer has its own
state NamedTuple, named as optax's where optax has one.
"""

from __future__ import annotations

import optax
import optax.contrib
import pytest

import jopt

# optax name -> jopt name, where jopt's has another name.
COUNTERPARTS = {
    "scale_by_rss": "scale_by_adagrad",  # optax.adagrad's primitive
    "scale_by_factored_rms": "scale_by_adafactor",  # optax.adafactor's primitive
    "trace": "scale_by_trace",  # the momentum buffer (jopt.sgd's)
    "reduce_on_plateau": "reduce_lr_on_plateau",  # optax.contrib's
    "scale_by_schedule": "scale_by_learning_rate",  # a rate or schedule count -> rate
}

_LOSS = "a loss function, not an optimizer (optax's works with jopt)"
_SCHEDULE = "a schedule count -> value: jopt takes optax's schedules as they are (jopt.schedules has PyTorch's)"
_WRAPPER = "a wrapper or combinator of transforms: optax's composes with jopt's optimizers"
_CLIP = "a gradient transformation, not an optimizer: optax's chains with jopt's"
_UTIL = "a utility (tree, numerics or state), not an optimizer"

NOT_OPTIMIZERS = {
    # losses
    **dict.fromkeys(
        [
            "convex_kl_divergence",
            "cosine_distance",
            "cosine_similarity",
            "ctc_loss",
            "ctc_loss_with_forward_probs",
            "generalized_kl_divergence",
            "hinge_loss",
            "huber_loss",
            "kl_divergence",
            "l2_loss",
            "log_cosh",
            "ntxent",
            "sigmoid_binary_cross_entropy",
            "smooth_labels",
            "softmax_cross_entropy",
            "softmax_cross_entropy_with_integer_labels",
        ],
        _LOSS,
    ),
    # schedules
    **dict.fromkeys(
        [
            "constant_schedule",
            "cosine_decay_schedule",
            "cosine_onecycle_schedule",
            "exponential_decay",
            "join_schedules",
            "linear_onecycle_schedule",
            "linear_schedule",
            "piecewise_constant_schedule",
            "piecewise_interpolate_schedule",
            "polynomial_schedule",
            "sgdr_schedule",
            "warmup_cosine_decay_schedule",
            "warmup_exponential_decay_schedule",
        ],
        _SCHEDULE,
    ),
    # wrappers and combinators
    **dict.fromkeys(
        [
            "apply_every",
            "apply_if_finite",
            "conditionally_mask",
            "conditionally_transform",
            "flatten",
            "inject_hyperparams",
            "masked",
            "microbatch",
            "monitor",
            "multi_transform",
            "partition",
            "skip_large_updates",
            "skip_not_finite",
            "split_real_and_imaginary",
            "stateless",
            "stateless_with_tree_map",
        ],
        _WRAPPER,
    ),
    # gradient transformations that are not optimizers by themselves
    **dict.fromkeys(
        [
            "adaptive_grad_clip",
            "centralize",
            "clip",
            "clip_by_block_rms",
            "clip_by_global_norm",
            "ema",
            "identity",
            "keep_params_nonnegative",
            "per_example_global_norm_clip",
            "per_example_layer_norm_clip",
            "scale",
            "scale_by_param_block_norm",
            "scale_by_param_block_rms",
            "scale_gradient",
            "set_to_zero",
            "zero_nans",
        ],
        _CLIP,
    ),
    "scale_by_backtracking_linesearch": (
        "a line search (Armijo backtracking), not an optimizer: it chains after jopt's "
        "optimizers as it is; jopt's L-BFGS uses the zoom line search "
        "(jopt.scale_by_zoom_linesearch)"
    ),
    # utilities
    **dict.fromkeys(
        [
            "apply_updates",
            "assignment",
            "global_norm",
            "incremental_update",
            "init_empty_state",
            "matrix_inverse_pth_root",
            "measure_with_ema",
            "multi_normal",
            "nnls",
            "periodic_update",
            "power_iteration",
            "safe_increment",
            "safe_int32_increment",
            "safe_norm",
            "safe_root_mean_squares",
            "value_and_grad_from_state",
        ],
        _UTIL,
    ),
}


def optax_names() -> set[str]:
    contrib = {n for n in dir(optax.contrib) if not n.startswith("_")}
    return {n for n in set(optax.__all__) | contrib if n[0].islower()}


def sort(names, module=jopt) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"same": [], "renamed": [], "not": [], "missing": []}
    for n in sorted(names):
        if hasattr(module, n):
            groups["same"].append(n)
        elif n in COUNTERPARTS and hasattr(module, COUNTERPARTS[n]):
            groups["renamed"].append(n)
        elif n in NOT_OPTIMIZERS:
            groups["not"].append(n)
        else:
            groups["missing"].append(n)
    return groups


def test_every_optax_optimizer_has_a_jopt_counterpart():
    groups = sort(optax_names())
    assert groups["missing"] == [], f"optax optimizers jopt lacks: {groups['missing']}"
    # the list, by name (optax's top level and optax.contrib)
    for name in [
        "adabelief", "yogi", "adan", "lars", "novograd", "sm3", "fromage", "sign_sgd",
        "signum", "noisy_sgd", "polyak_sgd", "optimistic_gradient_descent",
        "optimistic_adam", "adamaxw", "nadamw", "amsgrad", "lookahead", "lbfgs", "acprop",
        "ademamix", "simplified_ademamix", "adopt", "cocob", "dadapt_adamw", "dog", "dowg",
        "dpsgd", "galore", "madgrad", "mechanize", "momo", "momo_adam", "prodigy", "sam",
        "schedule_free", "schedule_free_sgd", "schedule_free_adamw", "schedule_free_radam",
        "schedule_free_eval_params", "sophia",
    ]:  # fmt: skip
        assert callable(getattr(jopt, name)), name
    assert len(groups["same"]) >= 80


def test_the_lists_have_no_stale_entries():
    names = optax_names()
    assert not set(NOT_OPTIMIZERS) - names, "listed, but not in optax"
    assert not [n for n in NOT_OPTIMIZERS if hasattr(jopt, n)], "listed, but jopt has it"
    assert not set(COUNTERPARTS) - names
    assert all(hasattr(jopt, j) for j in COUNTERPARTS.values())
    assert all(isinstance(r, str) and len(r) > 20 for r in NOT_OPTIMIZERS.values())


def test_the_check_finds_an_optimizer_jopt_lacks():
    class Partial:  # jopt without two of its optimizers
        def __getattr__(self, name):
            if name in ("adopt", "sophia"):
                raise AttributeError(name)
            return getattr(jopt, name)

    assert sort(optax_names(), Partial())["missing"] == ["adopt", "sophia"]
    # and a name optax adds that is neither jopt's nor listed
    assert sort({"adam", "brand_new_optimizer"})["missing"] == ["brand_new_optimizer"]


@pytest.mark.parametrize("name", sorted(COUNTERPARTS))
def test_a_renamed_counterpart_builds(name):
    jopt_name = COUNTERPARTS[name]
    factory = getattr(jopt, jopt_name)
    tx = factory(0.1) if jopt_name == "scale_by_learning_rate" else factory()
    assert isinstance(tx, optax.GradientTransformation)
