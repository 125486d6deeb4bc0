"""Seeded mutations of jopt after the issue-18 restructure: the same 69 bugs as
``mutants_60fcd85.py`` (same ids, same ``what``), planted where each rule lives now.

Run with ``python tests/mutation/run.py --tree <checkout> --mutants
tests/mutation/mutants_after.py``. Ids: F = a formula, C = a check of the arguments,
S = state handling. Where a rule's home changed shape (a check now a declared rule, a
name-keyed table now a declaration), the comment above the mutant says how the bug was
carried over. Where the restructure merged several homes into one (e.g. Adam's moment
scalars, now shared by Adamax and NAdam; the argument rules, now shared by the PyTorch
presets), the one home is mutated, so the bug reaches every optimizer that uses it.
"""

from __future__ import annotations

try:
    from mutants import Mutant  # run.py puts this folder on sys.path
except ModuleNotFoundError:  # collected by pytest as part of a tests.mutation package
    from .mutants import Mutant

ADAM = "jopt/_algorithms/adam/adam.py"
ELEMENTWISE = "jopt/_core/elementwise.py"
CHECKS = "jopt/_core/checks.py"
STATE = "jopt/_core/state.py"
DTYPES = "jopt/_core/dtypes.py"
LEARNING_RATE = "jopt/_core/learning_rate.py"
KERAS_COMMON = "jopt/compat/keras/_common.py"
KERAS_OPTIONS = "jopt/compat/keras/_options.py"
KERAS_LOSS_SCALE = "jopt/compat/keras/_loss_scale.py"
TORCH_COMMON = "jopt/compat/torch/_common.py"

MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------- formulas
    # Adam's per-dtype scalars are one NamedTuple (moment_scalars), shared now by Adam,
    # AMSGrad, RAdam, Adamax (bias1) and NAdam (bias2).
    Mutant(
        "F01-adam-bias1",
        "Adam's first-moment bias correction uses β2 (m̂ = m/(1−β2^t) instead of m/(1−β1^t))",
        ADAM,
        "bias1=(1.0 - c1**t).astype(dt),",
        "bias1=(1.0 - c2**t).astype(dt),",
    ),
    Mutant(
        "F02-adam-bias2",
        "Adam's second-moment bias correction is one step ahead (1−β2^(t+1) instead of 1−β2^t)",
        ADAM,
        "bias2=1.0 - c2**t,",
        "bias2=1.0 - c2 ** (t + 1.0),",
    ),
    Mutant(
        "F03-keras-epshat",
        "Keras' epsilon-hat (ε outside the sqrt) is rescaled by 1/(1−β2^t), not 1/sqrt(1−β2^t)",
        ADAM,
        "s.eps / (s.bias2 if eps_in_sqrt else jnp.sqrt(s.bias2))",
        "s.eps / (s.bias2 if eps_in_sqrt else s.bias2)",
    ),
    Mutant(
        "F04-amsgrad-min",
        "AMSGrad keeps the running minimum of v instead of the running maximum",
        ADAM,
        "jnp.maximum(v_max.astype(v_new.dtype), v_new)",
        "jnp.minimum(v_max.astype(v_new.dtype), v_new)",
    ),
    Mutant(
        "F05-eps-placement",
        "ε placement inverted: eps_in_sqrt gives g/(sqrt(s)+ε) and the default g/sqrt(s+ε)",
        ELEMENTWISE,
        "denom = jnp.sqrt(denom_sq + eps) if eps_in_sqrt else jnp.sqrt(denom_sq) + eps",
        "denom = jnp.sqrt(denom_sq) + eps if eps_in_sqrt else jnp.sqrt(denom_sq + eps)",
    ),
    Mutant(
        "F06-ema-unweighted",
        "the shared moving average adds the new value unweighted (β·m + x, not β·m + (1−β)·x)",
        ELEMENTWISE,
        "added = x if rest is None else rest * x",
        "added = x",
    ),
    Mutant(
        "F07-complex-abs-sq",
        "|g|² of a complex gradient is computed as Re(g·g) instead of Re(conj(g)·g)",
        ELEMENTWISE,
        "return (jnp.conj(g) * g).real",
        "return (g * g).real",
    ),
    Mutant(
        "F08-sgd-dampen-first",
        "SGD's first momentum step is dampened too (b_1 = (1−d)·g_1 instead of g_1)",
        "jopt/_algorithms/sgd/sgd.py",
        "return mu, keep, jnp.where(first, jnp.ones((), dt), 1.0 - cast(dampening, dt))",
        "return mu, keep, 1.0 - cast(dampening, dt)",
    ),
    Mutant(
        "F09-sgd-nesterov",
        "SGD's Nesterov output is b_t + μ·g_t instead of g_t + μ·b_t",
        "jopt/_algorithms/sgd/sgd.py",
        "out = gw + mu * b_new if nesterov else b_new",
        "out = b_new + mu * gw if nesterov else b_new",
    ),
    Mutant(
        "F10-deck-nesterov",
        "the deck's averaged NAG direction swaps its weights: (1−β)·m_t + β·g_t",
        "jopt/_algorithms/sgd/momentum.py",
        "out = b * m_new + one_minus_b * gw if nesterov else m_new",
        "out = one_minus_b * m_new + b * gw if nesterov else m_new",
    ),
    Mutant(
        "F11-deck-momentum-sum",
        "the deck's averaged momentum sums (m = β·m + g) instead of averaging (β·m + (1−β)·g)",
        "jopt/_algorithms/sgd/momentum.py",
        "m_new = ema(b, one_minus_b, m, gw)",
        "m_new = ema(b, None, m, gw)",
    ),
    Mutant(
        "F12-rmsprop-centered",
        "centered RMSprop adds the squared mean (v + m̄²) instead of subtracting it (v − m̄²)",
        "jopt/_algorithms/adaptive/rmsprop.py",
        "out = normalize(gw, v_new - abs_sq(m_new), eps_, eps_in_sqrt)",
        "out = normalize(gw, v_new + abs_sq(m_new), eps_, eps_in_sqrt)",
    ),
    Mutant(
        "F13-adagrad-no-sum",
        "AdaGrad forgets its sum of squares (divides by |g_t| alone, not by sqrt(Σ g²))",
        "jopt/_algorithms/adaptive/adagrad.py",
        "s_new = stored(s.astype(real_dtype(dt)) + abs_sq(gw), s.dtype)",
        "s_new = stored(abs_sq(gw), s.dtype)",
    ),
    Mutant(
        "F14-adadelta-old-eg",
        "Adadelta divides by the previous E[g²]_{t−1} instead of the updated E[g²]_t",
        "jopt/_algorithms/adaptive/adadelta.py",
        "ratio = jnp.sqrt(e_x.astype(rdt) + e) / jnp.sqrt(e_g_new + e)",
        "ratio = jnp.sqrt(e_x.astype(rdt) + e) / jnp.sqrt(e_g.astype(rdt) + e)",
    ),
    Mutant(
        "F15-adamax-no-decay",
        "Adamax's infinity norm does not decay (u = max(u, |g|) instead of max(β2·u, |g|))",
        "jopt/_algorithms/adam/adamax.py",
        "u_new = stored(jnp.maximum(s.b2 * u.astype(size.dtype), size), u.dtype)",
        "u_new = stored(jnp.maximum(u.astype(size.dtype), size), u.dtype)",
    ),
    Mutant(
        "F16-nadam-mu-next",
        "NAdam's μ_{t+1} is computed at step t (μ_{t+1} = μ_t)",
        "jopt/_algorithms/adam/nadam.py",
        "mu_next = c1 * (1.0 - 0.5 * 0.96 ** ((t + 1).astype(wide) * psi))",
        "mu_next = c1 * (1.0 - 0.5 * 0.96 ** (t.astype(wide) * psi))",
    ),
    # RAdam's rectification lives in adam.py beside the moments (radam.py calls it).
    Mutant(
        "F17-radam-no-sqrt",
        "RAdam's rectification factor r_t is not square-rooted (r_t² is applied)",
        ADAM,
        "return on, jnp.sqrt(jnp.where(on, ratio, 1.0))",
        "return on, jnp.where(on, ratio, 1.0)",
    ),
    Mutant(
        "F18-lion-interp-b2",
        "Lion's sign direction interpolates with β2 instead of β1",
        "jopt/_algorithms/sign/lion.py",
        "direction = jnp.sign(ema(s.b1, s.rest1, m, gw))",
        "direction = jnp.sign(ema(s.b2, s.rest2, m, gw))",
    ),
    Mutant(
        "F19-lamb-trust-inverted",
        "LAMB's trust ratio is inverted (‖u‖/‖θ‖ instead of ‖θ‖/‖u‖)",
        "jopt/_algorithms/layerwise/lamb.py",
        "ratio = jnp.where(safe, p_norm / jnp.where(safe, u_norm, 1.0), 1.0)",
        "ratio = jnp.where(safe, u_norm / jnp.where(safe, p_norm, 1.0), 1.0)",
    ),
    Mutant(
        "F20-adafactor-row-mean",
        "Adafactor's factored V̂ is not normalized by the row mean (R·Cᵀ instead of R·Cᵀ/mean(R))",
        "jopt/_algorithms/matrix/adafactor.py",
        "v = (row / row_mean)[..., None] * col[..., None, :]",
        "v = row[..., None] * col[..., None, :]",
    ),
    Mutant(
        "F21-muon-ns-coefficient",
        "Muon's default Newton–Schulz coefficient c has a typo (2.0135 instead of 2.0315)",
        "jopt/_algorithms/matrix/muon.py",
        "NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)",
        "NS_COEFFICIENTS = (3.4445, -4.7750, 2.0135)",
    ),
    # The per-dtype scalars are NamedTuple fields now (s.power, s.alpha).
    Mutant(
        "F22-ftrl-sigma",
        "FTRL's σ_t is multiplied by α instead of divided by it",
        "jopt/_algorithms/proximal/ftrl.py",
        "sigma = (n_pow - jnp.power(n_old, s.power)) / s.alpha",
        "sigma = (n_pow - jnp.power(n_old, s.power)) * s.alpha",
    ),
    Mutant(
        "F23-rprop-etas-swapped",
        "Rprop shrinks the step when the gradient keeps its sign and grows it when it flips",
        "jopt/_algorithms/sign/rprop.py",
        "factor = jnp.where(s > 0, cast(eta_plus, dt), jnp.where(s < 0, eta_m, 1.0))",
        "factor = jnp.where(s > 0, eta_m, jnp.where(s < 0, cast(eta_plus, dt), 1.0))",
    ),
    Mutant(
        "F24-asgd-eta-ahead",
        "ASGD's η_t decays one step ahead (1 + λα·t instead of 1 + λα·(t−1))",
        "jopt/_algorithms/averaging/asgd.py",
        "eta = lr / (1.0 + cast(lambd, sdt) * lr * c.astype(sdt)) ** cast(alpha, sdt)",
        "eta = lr / (1.0 + cast(lambd, sdt) * lr * (c + 1).astype(sdt)) ** cast(alpha, sdt)",
    ),
    Mutant(
        "F25-swa-weight",
        "SWA's equal average weighs the new parameters by 1/n instead of 1/(n+1)",
        "jopt/_algorithms/averaging/average.py",
        "mixed = a + (new - a) / (n + 1).astype(dt)",
        "mixed = a + (new - a) / n.astype(dt)",
    ),
    # The scalars are the NamedTuple _Scalars now; the weight is its field.
    Mutant(
        "F26-schedule-free-weight",
        "schedule-free AdamW's averaging weight is 1/(t+1) instead of 1/t",
        "jopt/_algorithms/averaging/schedule_free.py",
        "weight=1.0 / t,",
        "weight=1.0 / (t + 1),",
    ),
    Mutant(
        "F27-decoupled-wd-no-lr",
        "decoupled weight decay (decay step −α·λ·θ) is not scaled by the learning rate (−λ·θ)",
        "jopt/_algorithms/regularization/weight_decay.py",
        "step = p.astype(dt) * cast(wd, dt) * cast(lr, dt)  # Keras: θ·λ·α",
        "step = p.astype(dt) * cast(wd, dt)  # Keras: θ·λ·α",
    ),
    Mutant(
        "F28-weight-decay-sign",
        "weight decay added to the gradient/update is −λ·θ instead of +λ·θ (weights grow)",
        "jopt/_algorithms/regularization/weight_decay.py",
        "return (g.astype(dt) + decay_of(dt) * p.astype(dt)).astype(g.dtype)",
        "return (g.astype(dt) - decay_of(dt) * p.astype(dt)).astype(g.dtype)",
    ),
    Mutant(
        "F29-lr-sign",
        "the learning-rate step ascends: +α·u by default and −α·u with flip_sign=False",
        LEARNING_RATE,
        "sign = -1.0 if flip_sign else 1.0",
        "sign = 1.0 if flip_sign else -1.0",
    ),
    Mutant(
        "F30-step-lr-early",
        "StepLR decays one step early (γ^⌊(t+1)/s⌋ instead of γ^⌊t/s⌋)",
        "jopt/schedules/_step.py",
        "return cast(base_lr, dtype) * power(gamma, count // step_size, dtype)",
        "return cast(base_lr, dtype) * power(gamma, (count + 1) // step_size, dtype)",
    ),
    Mutant(
        "F31-cosine-period",
        "CosineAnnealingLR restarts every t_max steps instead of rising back over 2·t_max",
        "jopt/schedules/_cosine.py",
        "phase = count_mod(count, 2 * t_max)",
        "phase = count_mod(count, t_max)",
    ),
    # The phase ends are computed once, in _phase_ends (read by the pct_start relation
    # and by the schedule), no longer in a local warm_end.
    Mutant(
        "F32-one-cycle-warmup-end",
        "OneCycleLR's warm-up phase ends at p·T instead of p·T − 1",
        "jopt/schedules/_one_cycle.py",
        "ends = [pct * total - 1, float(total - 1)]",
        "ends = [pct * total, float(total - 1)]",
    ),
    Mutant(
        "F33-cyclic-triangular2",
        "CyclicLR's triangular2 halves the amplitude from the first cycle on (1/2^cycle)",
        "jopt/schedules/_cyclic.py",
        "return height * 0.5 ** passed.astype(dtype)",
        "return height * 0.5 ** (passed + 1).astype(dtype)",
    ),
    # The closed form (the product's loop) is mutated. The restructure added a second
    # path, the O(1) recurrence an optimizer's learning-rate step uses between updates
    # (schedule(t) = schedule(t−1)·f(t), base_lr at t = 0); it is left as it is, so an
    # optimizer sees the bug only in the rate its state records at init.
    Mutant(
        "F34-multiplicative-from-zero",
        "MultiplicativeLR also multiplies in the factor of step 0 (product over 0..t, not 1..t)",
        "jopt/schedules/_lambda.py",
        "jnp.ones_like(count),",
        "jnp.zeros_like(count),",
    ),
    Mutant(
        "F35-linear-lr-swapped",
        "LinearLR runs from end_factor to start_factor (the two factors swapped)",
        "jopt/schedules/_step.py",
        "factor = cast(start_factor, dtype) * left + cast(end_factor, dtype) * done.astype(dtype)",
        "factor = cast(end_factor, dtype) * left + cast(start_factor, dtype) * done.astype(dtype)",
    ),
    Mutant(
        "F36-polynomial-ahead",
        "PolynomialLR is one step ahead ((1 − min(t+1, T)/T)^p)",
        "jopt/schedules/_step.py",
        "left = (total_iters - jnp.clip(count, 0, total_iters)).astype(dtype) / total_iters",
        "left = (total_iters - jnp.clip(count + 1, 0, total_iters)).astype(dtype) / total_iters",
    ),
    Mutant(
        "F37-warm-restarts-first-cycle",
        "CosineAnnealingWarmRestarts' first cycle lasts T_0·T_mult instead of T_0 (T_mult > 1)",
        "jopt/schedules/_cosine.py",
        "starts, lengths = [0], [t_0]",
        "starts, lengths = [0], [t_0 * t_mult]",
    ),
    # --------------------------------------------------------------------- checks
    # check_unit(...) is the declared rule unit_interval() now; the PyTorch presets'
    # betas use it too (before, they called check_range with their own bounds).
    Mutant(
        "C01-unit-closed",
        "a decay rate β must be in [0, 1) but 1 is accepted (the upper end closed)",
        CHECKS,
        "return Real(0.0, 1.0, hi_open=True, schedule=schedule, message=message)",
        "return Real(0.0, 1.0, hi_open=False, schedule=schedule, message=message)",
    ),
    # check_learning_rate(...) is the declared rule learning_rate() now; PyTorch's LR
    # rule uses it too. Keras' learning rate has its own rule (KerasLearningRate in
    # compat/keras/_common.py, Real(0.0, schedule=True)), which this bug does not reach.
    Mutant(
        "C02-lr-negative",
        "a negative learning rate is accepted (the lower bound 0 dropped)",
        CHECKS,
        "return Real(0.0, schedule=True, message=message)",
        "return Real(-math.inf, schedule=True, message=message)",
    ),
    # check_range(...) is the rule Real now: lo/lo_open are its fields.
    Mutant(
        "C03-open-lower-end",
        "a range open at its lower end, (lo, hi], admits lo itself",
        CHECKS,
        "or (x <= self.lo if self.lo_open and not infinite_ok else x < self.lo)",
        "or (x < self.lo)",
    ),
    Mutant(
        "C04-nan-accepted",
        "NaN passes the range checks of every real hyperparameter",
        CHECKS,
        "            math.isnan(x)\n            or (math.isinf(x) and not self.allow_inf)",
        "            (math.isinf(x) and not self.allow_inf)",
    ),
    # check_flag(...) is the rule Flag (flag()) now.
    Mutant(
        "C05-flag-int",
        "a flag (True/False switch) also accepts integers such as 0 and 1",
        CHECKS,
        "        if not isinstance(value, (bool, np.bool_)):\n            want =",
        "        if not isinstance(value, (bool, np.bool_, int)):\n            want =",
    ),
    # check_dtype(...) is the rule Dtype (dtype()) now.
    Mutant(
        "C06-dtype-integer",
        "a state dtype (mu_dtype, nu_dtype, ...) may be an integer dtype",
        CHECKS,
        "if dtype is None or not jnp.issubdtype(dtype, jnp.floating):",
        "if dtype is None or not jnp.issubdtype(dtype, jnp.number):",
    ),
    # check_nesterov(...) is the relation nesterov_needs_momentum in sgd.py now (declared
    # by jopt.scale_by_trace, jopt.sgd and compat.torch.SGD).
    Mutant(
        "C07-nesterov-dampening",
        "Nesterov momentum is accepted with a nonzero dampening",
        "jopt/_algorithms/sgd/sgd.py",
        "if momentum is None or (m is not None and m <= 0) or (d is not None and d != 0):",
        "if momentum is None or (m is not None and m <= 0):",
    ),
    # check_int's default maximum is the default of the rule factory integer() now (the
    # rule every factory declares for a static integer: step_size, t_max, total_iters,
    # ...). The Integer class keeps its own default for the entries of integers()
    # (milestones), which this bug does not reach; Keras' integers have their own bound.
    Mutant(
        "C08-int-bound",
        "a static integer argument bounded by the int32 range accepts 2**31",
        CHECKS,
        "def integer(minimum: int, maximum: int = 2**31 - 1, *, traced: bool = False)",
        "def integer(minimum: int, maximum: int = 2**31, *, traced: bool = False)",
    ),
    # The check is the relation one_clip of every Keras preset now.
    Mutant(
        "C09-keras-clip-exclusive",
        "Keras' options accept two of clipnorm, clipvalue and global_clipnorm together",
        KERAS_COMMON,
        "if sum(arguments[name] is not None for name in clips) > 1:",
        "if sum(arguments[name] is not None for name in clips) > 2:",
    ),
    # The betas check is the declared rule BETAS = pair(...) now, with one message per
    # index written out (not f"... {i}"): both are shifted by one.
    Mutant(
        "C10-torch-betas-index",
        "torch's betas error names the wrong element (index i+1 for betas[i])",
        TORCH_COMMON,
        'message="Invalid beta parameter at index 0"),\n'
        '    unit_interval(message="Invalid beta parameter at index 1"),',
        'message="Invalid beta parameter at index 1"),\n'
        '    unit_interval(message="Invalid beta parameter at index 2"),',
    ),
    Mutant(
        "C11-tree-leaf-count",
        "the gradient-tree check compares only the number of leaves, not the structure",
        STATE,
        "    if got != want:",
        "    if got.num_leaves != want.num_leaves:",
    ),
    Mutant(
        "C12-integer-params",
        "integer parameters are accepted at init (only float/complex should be)",
        STATE,
        "if not jnp.issubdtype(dtype, jnp.inexact):",
        "if not jnp.issubdtype(dtype, jnp.number):",
    ),
    # The check is the declared rule KerasInteger(2, ...) of the Keras base options now.
    Mutant(
        "C13-keras-accumulation-min",
        "Keras' gradient_accumulation_steps=1 is accepted (Keras requires >= 2)",
        KERAS_COMMON,
        '        2, "`gradient_accumulation_steps` must be an integer >= 2", zero_ok=True',
        '        1, "`gradient_accumulation_steps` must be an integer >= 2", zero_ok=True',
    ),
    # check_int(..., 1) is the declared rule integer(1) of step_lr now.
    Mutant(
        "C14-step-lr-step-size",
        "StepLR accepts step_size=0 (the minimum 1 lowered to 0)",
        "jopt/schedules/_step.py",
        "step_size=integer(1)",
        "step_size=integer(0)",
    ),
    # ---------------------------------------------------------------------- state
    Mutant(
        "S01-f16-moments",
        "float16 leaves' moments are stored in float16 instead of float32",
        DTYPES,
        "    if leaf_dtype == jnp.float16:\n        return jnp.dtype(jnp.float32)\n    return leaf_dtype",
        "    return leaf_dtype",
    ),
    Mutant(
        "S02-count-int64",
        "the step count is created as int64 instead of int32",
        STATE,
        "return scalar(params, 0, jnp.int32)",
        "return scalar(params, 0, jnp.int64)",
    ),
    Mutant(
        "S03-increment-wraps",
        "the step count wraps around past 2**31 − 1 instead of saturating",
        STATE,
        "return typing.cast(jax.Array, optax.safe_int32_increment(count))",
        "return typing.cast(jax.Array, count + 1)",
    ),
    Mutant(
        "S04-stored-no-rounding",
        "a moment is used at full precision, not as rounded to its storage dtype (bf16 state)",
        DTYPES,
        "return x if x.dtype == dtype else x.astype(dtype).astype(x.dtype)",
        "return x",
    ),
    Mutant(
        "S05-requested-zero",
        "a concrete zero (momentum=0.0, weight_decay=0) counts as requested (keeps state)",
        STATE,
        "return not (np.ndim(value) == 0 and value == 0)",
        "return True",
    ),
    Mutant(
        "S06-init-lr-uncounted",
        "a constant learning rate's state keeps no count even when a count is asked for",
        LEARNING_RATE,
        "if callable(learning_rate) or counted:",
        "if callable(learning_rate):",
    ),
    Mutant(
        "S07-amsgrad-shared-buffer",
        "AMSGrad's v_max shares the buffers of v instead of having its own (distinct buffers)",
        ADAM,
        "nu_max = moments_like(params, nu_dtype, real=True)",
        "nu_max = nu",
    ),
    Mutant(
        "S08-scalar-not-placed",
        "state scalars (counts, rates) are not replicated over committed params' devices",
        STATE,
        "    return jax.device_put(x, sharding)",
        "    return x",
    ),
    Mutant(
        "S09-tie-dropped",
        "moments created under jit are not tied to their parameter's sharding (no shard_alike)",
        "jopt/sharding/_placement.py",
        "return shard_alike(like, new)[1] if isinstance(like, jax.core.Tracer) else new",
        "return new",
    ),
    Mutant(
        "S10-zero-indivisible",
        "ZeRO splits a moment on a dimension the axis size does not divide (per-shard size)",
        "jopt/sharding/_shardings.py",
        "if extent % size == 0 and extent > best_extent:",
        "if extent > best_extent:",
    ),
    # The row/col axes are no longer a name-keyed table in the sharding code: each field
    # of FactoredSecondMoment declares its reduced axis (Reduced(-1), Reduced(-2)), which
    # only jopt.sharding reads. The two declarations are swapped.
    Mutant(
        "S11-factored-spec-swapped",
        "Adafactor's row/col statistics get the spec without the wrong axis (row ↔ col)",
        "jopt/_algorithms/matrix/adafactor.py",
        "    row: Annotated[jax.Array, Reduced(-1)]\n    col: Annotated[jax.Array, Reduced(-2)]",
        "    row: Annotated[jax.Array, Reduced(-2)]\n    col: Annotated[jax.Array, Reduced(-1)]",
    ),
    Mutant(
        "S12-complex-view-conjugated",
        "compat.torch's real view of a complex parameter maps the update back conjugated",
        TORCH_COMMON,
        "return jax.lax.complex(u[..., 0], u[..., 1]).astype(like.dtype)",
        "return jax.lax.complex(u[..., 0], -u[..., 1]).astype(like.dtype)",
    ),
    Mutant(
        "S13-keras-accumulation-sum",
        "Keras' gradient accumulation steps with the sum of the n gradients, not their mean",
        KERAS_OPTIONS,
        "lambda g, a: ((g + a.astype(g.dtype)) / cast(steps, g.dtype),),",
        "lambda g, a: ((g + a.astype(g.dtype)),),",
    ),
    Mutant(
        "S14-keras-ema-first",
        "Keras' parameter EMA does not start at the parameters (the first one is mixed with 0)",
        KERAS_OPTIONS,
        "momentum = jnp.where(first, jnp.zeros([], dt), cast(ema_momentum, dt))",
        "momentum = cast(ema_momentum, dt)",
    ),
    Mutant(
        "S15-loss-scale-growth",
        "LossScaleOptimizer doubles the scale after growth_steps + 1 finite steps, not growth_steps",
        KERAS_LOSS_SCALE,
        "grow = state.step_counter == jnp.asarray(dynamic_growth_steps).astype(jnp.int32) - 1",
        "grow = state.step_counter == jnp.asarray(dynamic_growth_steps).astype(jnp.int32)",
    ),
    Mutant(
        "S16-loss-scale-skip-counter",
        "a skipped (non-finite) loss-scale step keeps the finite-step counter instead of resetting it",
        KERAS_LOSS_SCALE,
        "LossScaleState(jnp.zeros_like(state.step_counter), scale * 0.5, state.inner)",
        "LossScaleState(state.step_counter, scale * 0.5, state.inner)",
    ),
    Mutant(
        "S17-get-lr-last",
        "get_learning_rate reads the last learning-rate step in the state, not the first",
        LEARNING_RATE,
        "return jnp.asarray(found[0].learning_rate[...])",
        "return jnp.asarray(found[-1].learning_rate[...])",
    ),
    Mutant(
        "S18-ftrl-accumulator-zero",
        "FTRL's accumulator n starts at 0 instead of initial_accumulator_value",
        "jopt/_algorithms/proximal/ftrl.py",
        "moments_like(params, fill=initial_accumulator_value, real=True),",
        "moments_like(params, real=True),",
    ),
]
