"""User code that must type-check, and calls that must not: checked by pyright in strict
mode (tests/test_types.py, configured in pyproject.toml), never run (tests/conftest.py
keeps pytest's doctest collection from importing it).

Each call that must be rejected carries ``# pyright: ignore[<rule>]`` naming the error
pyright has to report there; reportUnnecessaryTypeIgnoreComment turns an ignore that
is not needed (the call type-checks after all) into an error.
"""
# pyright: reportUnnecessaryTypeIgnoreComment=true
# Not jopt's to fix: optax ships no stubs (pyright reads its source), and jax.numpy's own
# signatures are partially unknown (their `device` parameter).
# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import jopt
import jopt.compat.keras
import jopt.compat.torch
import jopt.schedules

# --- must type-check -------------------------------------------------------------------

tx: optax.GradientTransformation = jopt.adam(1e-3)
sgd: optax.GradientTransformationExtraArgs = jopt.sgd(0.1, momentum=0.9, nesterov=True)
torch_sgd: optax.GradientTransformation = jopt.compat.torch.SGD(lr=0.1, momentum=0.9)
torch_adam = jopt.compat.torch.Adam(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2)
keras_adam: optax.GradientTransformation = jopt.compat.keras.Adam(learning_rate=1e-3, clipnorm=1.0)
options: jopt.compat.keras.KerasOptions = {"clipnorm": 1.0, "use_ema": False}
keras_sgd = jopt.compat.keras.SGD(learning_rate=0.01, momentum=0.9, **options)

schedule: jopt.Schedule = jopt.schedules.step_lr(0.1, 10)
warmup = jopt.schedules.linear_lr(0.1, start_factor=0.1, total_iters=5)
combined = jopt.schedules.sequential_lr([warmup, schedule], milestones=[5])
scheduled = jopt.adamw(learning_rate=combined, weight_decay=1e-2)
traced_lr = jopt.sgd(jnp.asarray(0.1))  # a JAX scalar (vmap, inject_hyperparams)
with_optax_schedule = jopt.adam(optax.cosine_decay_schedule(1e-3, 100))
lr_now: jax.Array = schedule(jnp.asarray(3))

chained = optax.chain(optax.clip_by_global_norm(1.0), scheduled)
params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
state = chained.init(params)
updates, state = chained.update(params, state, params)
params = optax.apply_updates(params, updates)
rate: jax.Array = jopt.get_learning_rate(state)
injected = optax.inject_hyperparams(jopt.adam)(learning_rate=1e-3)
jopt.testing.check_transformation(tx, params, params, steps=2)
jopt.testing.check_vmap(lambda lr: jopt.sgd(lr, 0.9), params, params, [0.1, 0.2])
adam_state = jopt.scale_by_adam().init(params)  # optax types init() as OptState
if isinstance(adam_state, jopt.ScaleByAdamState):
    count: jax.Array = adam_state.count

# --- must not type-check ---------------------------------------------------------------

jopt.adam("0.1")  # pyright: ignore[reportArgumentType]
jopt.sgd(0.1, nesterov="yes")  # pyright: ignore[reportArgumentType]
jopt.schedules.step_lr(0.1, step_size=2.5)  # pyright: ignore[reportArgumentType]
jopt.compat.torch.SGD(learning_rate=0.1)  # pyright: ignore[reportCallIssue]
jopt.compat.keras.Adam(lr=1e-3)  # pyright: ignore[reportCallIssue]
jopt.compat.keras.Adam(clipnorm="1.0")  # pyright: ignore[reportArgumentType]
jopt.compat.keras.Adam(clip_norm=1.0)  # pyright: ignore[reportCallIssue]
not_a_number: float = jopt.adam(1e-3)  # pyright: ignore[reportAssignmentType]
