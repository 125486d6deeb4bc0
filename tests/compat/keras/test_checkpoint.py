"""jopt.compat.keras.load_own_variables / save_own_variables / read_keras_file
(jopt/compat/keras/_checkpoint.py) against real Keras: every class both ways.

Each case runs Keras (its jitted ``stateless_apply``, ``model.fit``'s path) and jopt on the
same gradient arrays: (a) Keras 7 steps, ``save_own_variables`` → jopt loads, 7 more
steps of each agree; (b) jopt 7 steps → its store equals Keras' own store at step 7,
Keras ``load_own_variables`` → 7 more steps of each agree; (c) jopt's store loads back
bit for bit. Keras' order of the variables (its insertion order) differs from jopt's
(sorted dict keys): every case passes ``order=``.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk
from jopt.compat import layout as jl
from tests.support import parity
from tests.support.tolerances import tol

# Keras' Variable.numpy() (save_own_variables) warns under NumPy 2
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

LR = 0.015625  # binary-exact: Keras' float32 learning_rate variable adds no rounding
STEPS = 7


def _params(kind: str = "plain") -> dict[str, np.ndarray]:
    """Keras' order is this dict's (insertion) order: not jopt's sorted one."""
    rng = np.random.default_rng(5)
    params = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,)), "s": np.asarray(0.7)}
    if kind == "tensor":  # Adafactor: factored over the last two axes of t
        params["t"] = rng.normal(size=(2, 3, 2))
    if kind == "muon":  # Muon: matrices, and an embedding it hands to AdamW
        params = {"v": rng.normal(size=(4, 3)), **params, "embedding": rng.normal(size=(3, 2))}
    return params


def _exp_decay(module):
    del module
    return dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.0625, 4, 0.5))


def _lso(module):
    return dict(inner_optimizer=module.Adam(learning_rate=LR))


def _multi(module):
    # Keras' order of the inner optimizers: the map's values (Adam, RMSprop: RMSprop steps
    # no parameter and keeps its iteration and rate only), then the default SGD.
    return dict(
        optimizer_map=module.OptimizerMap(
            module.SGD(learning_rate=0.03125, momentum=0.5),
            {"b": module.Adam(learning_rate=LR, use_ema=True), "nothing": module.RMSprop(LR)},
        )
    )


def _multi_function(module):
    # A function in place of an OptimizerMap: Keras' order of the inner optimizers is the
    # order it meets them in model.trainable_variables (w: SGD, then b: Adam), jopt's
    # labels the sorted one (b: Adam first).
    sgd = module.SGD(learning_rate=0.03125, momentum=0.5)
    adam = module.Adam(learning_rate=LR)
    if module is jk:
        return dict(optimizer_map=lambda path: adam if path == "b" else sgd)
    return dict(optimizer_map=lambda variable: adam if variable.name == "b" else sgd)


# (id, class, arguments of both, params kind, build(module) -> more arguments)
CASES = [
    ("SGD", "SGD", dict(learning_rate=0.03125, momentum=0.5, nesterov=True), "plain", None),
    ("RMSprop", "RMSprop", dict(learning_rate=LR, momentum=0.5, centered=True), "plain", None),
    ("Adam", "Adam", dict(learning_rate=LR, amsgrad=True), "plain", None),
    ("AdamW", "AdamW", dict(learning_rate=LR, weight_decay=0.0625), "plain", None),
    ("Adadelta", "Adadelta", dict(learning_rate=1.0, rho=0.75), "plain", None),
    ("Adagrad", "Adagrad", dict(learning_rate=0.0625), "plain", None),
    ("Adamax", "Adamax", dict(learning_rate=LR), "plain", None),
    ("Adafactor", "Adafactor", dict(learning_rate=0.5), "tensor", None),
    ("Nadam", "Nadam", dict(learning_rate=LR), "plain", None),
    ("Ftrl", "Ftrl", dict(learning_rate=0.25, l1_regularization_strength=0.015625), "plain", None),
    ("Lion", "Lion", dict(learning_rate=LR), "plain", None),
    ("Lamb", "Lamb", dict(learning_rate=LR), "plain", None),
    ("Muon", "Muon", dict(learning_rate=LR), "muon", None),
    ("ScheduleFreeAdamW", "ScheduleFreeAdamW", dict(learning_rate=0.03125), "plain", None),
    (
        "LossScaleOptimizer",
        "LossScaleOptimizer",
        dict(initial_scale=4.0, dynamic_growth_steps=3),
        "plain",
        _lso,
    ),
    ("MultiOptimizer", "MultiOptimizer", dict(loss_scale_factor=2.0), "plain", _multi),
    ("MultiOptimizer-function", "MultiOptimizer", {}, "plain", _multi_function),
    # the base options that keep variables, a schedule (no learning_rate variable), a
    # state without a count (SGD without momentum: save needs iterations=)
    (
        "Adam-ema-accumulation-schedule",
        "Adam",
        dict(use_ema=True, ema_momentum=0.75, gradient_accumulation_steps=3),
        "plain",
        _exp_decay,
    ),
    (
        "RMSprop-ema-overwrite-accumulation",
        "RMSprop",
        dict(
            learning_rate=LR, use_ema=True, ema_overwrite_frequency=2, gradient_accumulation_steps=2
        ),
        "plain",
        None,
    ),
    ("SGD-plain", "SGD", dict(learning_rate=0.03125), "plain", None),
]
FLOAT32_REDUCTIONS = parity.FLOAT32_REDUCTIONS  # Adafactor's means, Muon's norm
# Where jopt's state keeps no count (a constant rate: nothing in the step reads one),
# save_own_variables needs iterations=; everywhere else the state's count is Keras'
# iteration (MultiOptimizer's: its Adam member's; its SGD member keeps none).
NO_COUNT = {"SGD", "RMSprop", "Adadelta", "Adagrad", "Ftrl", "Lion", "SGD-plain"}


def _grads(params: dict[str, np.ndarray], dtype, steps: int, lso: bool) -> list[dict]:
    rng = np.random.default_rng(11)
    out = []
    for step in range(steps):
        g = {k: (rng.normal(size=np.shape(v)) * 0.5).astype(dtype) for k, v in params.items()}
        if lso and step in (2, 9):  # a step LossScaleOptimizer skips, before and after saving
            g["w"][0, 0] = np.inf
        out.append(g)
    return out


def _keras(name: str, kwargs: dict, build, params: dict, dtype):
    """The Keras optimizer built on Keras variables of ``params`` (in ``dtype``; Keras'
    learning-rate variable stays float32) and its jitted runner over gradient steps."""
    variables = [keras.Variable(np.asarray(v, dtype), name=k) for k, v in params.items()]
    extra = build(keras.optimizers) if build is not None else {}
    opt = getattr(keras.optimizers, name)(**kwargs, **extra)
    opt.build(variables)
    reductions = dtype is np.float64 and name in FLOAT32_REDUCTIONS

    @jax.jit
    def run(opt_values, values, grads):
        def step(carry, g):
            opt_values, values = carry
            values, opt_values = opt.stateless_apply(opt_values, g, values)
            return (opt_values, values), None

        with parity._reductions_in_float64(reductions):
            return jax.lax.scan(step, (opt_values, values), grads)[0]

    def steps(opt_values, values, grads):
        stacked = [np.stack([g[k] for g in grads]) for k in params]
        with jax.numpy_dtype_promotion("standard"):
            return run(list(opt_values), list(values), stacked)

    return opt, variables, steps


def _jopt(name: str, kwargs: dict, build):
    extra = build(jk) if build is not None else {}
    if build is _exp_decay:
        extra = build(keras.optimizers)  # the Keras schedule object, handed to jopt as is
    return getattr(jk, name)(**kwargs, **extra)


def _jopt_steps(tx, update, params: dict, state, grads: list[dict]):
    for g in grads:
        updates, state = update({k: jnp.asarray(v) for k, v in g.items()}, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def _close(actual: dict, expected: dict, dtype, what: str) -> None:
    bound = tol("lockstep", dtype)
    for k, e in expected.items():
        e = np.asarray(e, np.float64)
        a = np.asarray(actual[k], np.float64)
        scale = max(float(np.max(np.abs(e))), 1.0)
        np.testing.assert_allclose(a, e, rtol=bound, atol=bound * scale, err_msg=f"{what}: {k}")


def _identical(a, b) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert jnp.asarray(x).dtype == jnp.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_class_both_ways(case, dtype):
    key, name, kwargs, kind, build = case
    params0 = {k: np.asarray(v, dtype) for k, v in _params(kind).items()}
    names = list(params0)  # Keras' order
    grads = _grads(params0, dtype, 2 * STEPS, name == "LossScaleOptimizer")
    opt, variables, keras_steps = _keras(name, kwargs, build, params0, dtype)
    tx = _jopt(name, kwargs, build)
    update = jax.jit(tx.update)

    # (a) Keras 7 steps -> its store -> jopt goes on as Keras does
    opt7, values7 = keras_steps(
        [v.value for v in opt.variables], [v.value for v in variables], grads[:STEPS]
    )
    store = {str(i): np.asarray(v) for i, v in enumerate(opt7)}
    opt.load_own_variables(store)  # Keras' own round trip, for its store's format
    keras_store = {}
    opt.save_own_variables(keras_store)
    params7 = {k: jnp.asarray(v) for k, v in zip(names, values7, strict=True)}
    state = jk.load_own_variables(tx, params7, keras_store, order=names)
    ours, _ = _jopt_steps(tx, update, params7, state, grads[STEPS:])
    _, theirs = keras_steps(opt7, values7, grads[STEPS:])
    _close(ours, dict(zip(names, theirs, strict=True)), dtype, f"{key}: Keras -> jopt")

    # (b) jopt 7 steps -> its store (Keras' own, entry by entry) -> Keras goes on as jopt
    start = {k: jnp.asarray(v) for k, v in params0.items()}
    p7, s7 = _jopt_steps(tx, update, start, tx.init(start), grads[:STEPS])
    iterations = STEPS if key in NO_COUNT else None
    saved = jk.save_own_variables(tx, s7, p7, order=names, iterations=iterations)
    assert sorted(saved, key=int) == sorted(keras_store, key=int)
    for i in keras_store:
        assert saved[i].shape == np.shape(keras_store[i]), (key, i)
        _close({i: saved[i]}, {i: keras_store[i]}, dtype, f"{key}: store[{i}]")
    opt.load_own_variables(saved)
    _, theirs = keras_steps([v.value for v in opt.variables], [p7[k] for k in names], grads[STEPS:])
    ours, _ = _jopt_steps(tx, update, p7, s7, grads[STEPS:])
    _close(ours, dict(zip(names, theirs, strict=True)), dtype, f"{key}: jopt -> Keras")

    # (c) jopt -> store -> jopt, bit for bit
    _identical(jk.load_own_variables(tx, p7, saved, order=names), s7)


# ------------------------------------------------------------------------------ layout


@pytest.mark.parametrize("name", ["Adam", "Adafactor"])
def test_layout_moves_each_slot_with_its_weight(name):
    # jopt keeps w transposed relative to Keras (as a port of a torch Linear would):
    # layout={"w": linear} moves every per-parameter slot, Adafactor's r and c swap.
    dtype = np.float64
    params0 = {k: np.asarray(v, dtype) for k, v in _params().items()}
    names = list(params0)
    grads = _grads(params0, dtype, 2 * STEPS, False)
    kwargs = dict(learning_rate=LR if name == "Adam" else 0.5)
    opt, variables, keras_steps = _keras(name, kwargs, None, params0, dtype)
    opt7, values7 = keras_steps(
        [v.value for v in opt.variables], [v.value for v in variables], grads[:STEPS]
    )
    store = {str(i): np.asarray(v) for i, v in enumerate(opt7)}

    def transposed(tree):
        return {k: (v.T if k == "w" else v) for k, v in tree.items()}

    tx = getattr(jk, name)(**kwargs)
    params7 = transposed({k: jnp.asarray(v) for k, v in zip(names, values7, strict=True)})
    layout = {"w": jl.linear}
    state = jk.load_own_variables(tx, params7, store, order=names, layout=layout)
    ours, _ = _jopt_steps(
        tx, jax.jit(tx.update), params7, state, [transposed(g) for g in grads[STEPS:]]
    )
    _, theirs = keras_steps(opt7, values7, grads[STEPS:])
    _close(transposed(ours), dict(zip(names, theirs, strict=True)), dtype, name)
    # and back: the saved store is Keras' own
    saved = jk.save_own_variables(tx, state, params7, order=names, layout=layout)
    for i, v in store.items():
        _close({i: saved[i]}, {i: v}, dtype, f"{name}: store[{i}]")
    # a plain function has no inverse: loading takes it, saving refuses it
    plain = {"w": lambda x: np.asarray(x).T}
    jk.load_own_variables(tx, params7, store, order=names, layout=plain)
    with pytest.raises(TypeError, match=r"save_own_variables: the layout of 'w' is .*plain"):
        jk.save_own_variables(tx, state, params7, order=names, layout=plain)


# ------------------------------------------------------------------------ .keras files


def test_resume_from_a_keras_file(tmp_path):
    # model.fit, model.save("run.keras"): jopt reads weights and optimizer from the file
    # (no Keras needed) and goes on as the Keras model does, on the same gradients.
    dtype = np.float32
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LR, use_ema=True), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype(dtype), rng.normal(size=(16, 2)).astype(dtype)
    with jax.numpy_dtype_promotion("standard"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "run.keras")

    read = jk.read_keras_file(tmp_path / "run.keras")
    assert list(read.weights) == ["layers/dense", "layers/dense_1"]
    store = {}
    model.optimizer.save_own_variables(store)
    assert sorted(read.optimizer, key=int) == sorted(store, key=int)
    for i, v in store.items():
        np.testing.assert_array_equal(read.optimizer[i], v)
    # the recipe with Keras: load_model, then the optimizer's own store
    loaded = keras.models.load_model(tmp_path / "run.keras")
    recipe = {}
    loaded.optimizer.save_own_variables(recipe)
    for i, v in store.items():
        np.testing.assert_array_equal(recipe[i], v)

    params = {
        layer.split("/")[-1]: dict(zip(("kernel", "bias"), weights, strict=True))
        for layer, weights in read.weights.items()
    }
    order = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    params = jax.tree.map(jnp.asarray, params)
    tx = jk.AdamW(learning_rate=LR, use_ema=True)
    state = jk.load_own_variables(tx, params, read.optimizer, order=order)
    grads = [
        [rng.normal(size=v.shape).astype(dtype) for v in model.trainable_variables]
        for _ in range(3)
    ]
    update = jax.jit(tx.update)
    for g in grads:
        with jax.numpy_dtype_promotion("standard"):
            model.optimizer.apply_gradients(zip(g, model.trainable_variables, strict=True))
        tree = {"dense": {"kernel": g[0], "bias": g[1]}, "dense_1": {"kernel": g[2], "bias": g[3]}}
        updates, state = update(jax.tree.map(jnp.asarray, tree), state, params)
        params = optax.apply_updates(params, updates)
    theirs = [np.asarray(v.value) for v in model.trainable_variables]
    ours = [
        params["dense"]["kernel"],
        params["dense"]["bias"],
        params["dense_1"]["kernel"],
        params["dense_1"]["bias"],
    ]
    _close(dict(enumerate(ours)), dict(enumerate(theirs)), dtype, "from run.keras")
    np.testing.assert_allclose(
        np.asarray(jk.ema_params(state, params)["dense"]["kernel"]),
        np.asarray(model.optimizer._model_variables_moving_average[0].value),
        rtol=2e-5,
        atol=2e-6,
    )


def test_a_flax_nnx_optimizer_takes_the_loaded_state():
    # The recipe of load_own_variables' docstring: nnx.update(optimizer.opt_state, ...),
    # then optimizer.update goes on from it; its state saves back to the same store.
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.l2 = nnx.Linear(3, 4, rngs=rngs), nnx.Linear(4, 2, rngs=rngs)

        def __call__(self, x):
            return self.l2(self.l1(x))

    model = MLP(nnx.Rngs(0))
    tx = jk.Adam(learning_rate=LR)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    params = nnx.as_pure(nnx.state(model, nnx.Param))
    order = ["l1/kernel", "l1/bias", "l2/kernel", "l2/bias"]
    rng = np.random.default_rng(0)
    store = {"0": np.int32(5), "1": np.float32(LR)}
    for i, shape in enumerate([(3, 4), (3, 4), (4,), (4,), (4, 2), (4, 2), (2,), (2,)]):
        store[str(i + 2)] = rng.random(size=shape).astype(np.float32)
    state = jk.load_own_variables(tx, params, store, order=order)
    nnx.update(optimizer.opt_state, nnx.state(state))
    grads = jax.tree.map(jnp.ones_like, params)
    expected = tx.update(grads, state, params)[0]
    before = jax.tree.map(jnp.copy, params)
    optimizer.update(model, jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param)))
    moved = jax.tree.map(jnp.subtract, nnx.as_pure(nnx.state(model, nnx.Param)), before)
    _close(
        dict(enumerate(jax.tree.leaves(moved))),
        dict(enumerate(jax.tree.leaves(expected))),
        np.float32,
        "nnx.Optimizer",
    )
    back = jk.save_own_variables(tx, nnx.as_pure(optimizer.opt_state), params, order=order)
    assert int(back["0"]) == 6


def test_read_keras_file_refuses_other_zips(tmp_path):
    import zipfile

    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"^jopt.compat.keras.read_keras_file: .*model.weights.h5"):
        jk.read_keras_file(os.fspath(path))


# ------------------------------------------------------------------------------ errors

CALL = r"^jopt.compat.keras.load_own_variables: "


@functools.cache
def _adam_store() -> dict[str, np.ndarray]:
    """Keras' Adam (no amsgrad) on w (3, 4), b (4,), s (): 2 + 2·3 variables, 1 step."""
    params0 = _params()
    opt, variables, steps = _keras("Adam", dict(learning_rate=LR), None, params0, np.float64)
    opt1, _ = steps(
        [v.value for v in opt.variables],
        [v.value for v in variables],
        _grads(params0, np.float64, 1, False),
    )
    return {str(i): np.asarray(v) for i, v in enumerate(opt1)}


def _load(tx, store, params=None, **kwargs):
    params = {k: jnp.asarray(v) for k, v in (params or _params()).items()}
    return jk.load_own_variables(tx, params, store, **{"order": ["w", "b", "s"], **kwargs})


def _without(store, key):
    return {k: v for k, v in store.items() if k != key}


ERRORS = [
    # a store of another class: SGD with momentum has 2 + 3 variables
    (
        "other-class",
        lambda: jk.SGD(learning_rate=LR, momentum=0.5),
        lambda s: s,
        {},
        r"the store does not match: jopt.compat.keras.SGD on 3 parameters has 5 Keras variables .*keys not expected \['5', '6', '7'\].*another Keras class",
    ),
    # other options of the same class: amsgrad adds a velocity_hat per parameter
    (
        "other-options",
        lambda: jk.Adam(learning_rate=LR, amsgrad=True),
        lambda s: s,
        {},
        r".*has 11 Keras variables .*keys missing \['8', '9', '10'\]",
    ),
    # a missing and an extra entry
    (
        "missing",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: {**_without(s, "3"), "8": s["3"]},
        {},
        r".*keys missing \['3'\], keys not expected \['8'\]",
    ),
    # another order of the parameters: w's momentum meets b's shape
    (
        "shape",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: s,
        dict(order=["b", "w", "s"]),
        r"store\['2'\] \(Keras variable 2, 'momentum' of parameter 0 'b'\) has shape \(3, 4\); the parameter's is \(4,\)",
    ),
    # a layout that does not fit the parameter
    (
        "layout",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: s,
        dict(layout={"w": jl.linear}),
        r"store\['2'\] \(Keras variable 2, 'momentum' of parameter 0 'w'\) has shape \(4, 3\) after layout; the parameter's is \(3, 4\)",
    ),
    # another learning rate than the preset's
    (
        "learning-rate",
        lambda: jk.Adam(learning_rate=0.03125),
        lambda s: s,
        {},
        r"store\['1'\] \(Keras variable 1, 'learning_rate'\) is 0.015625, the preset's learning_rate is 0.03125",
    ),
    (
        "iteration",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: {**s, "0": np.float32(1.5)},
        {},
        r"store\['0'\] \(Keras variable 0, 'iteration'\) is 1.5, not an integer count",
    ),
    (
        "not-an-array",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: {**s, "4": "momentum"},
        {},
        r"store\['4'\] \(Keras variable 4, 'momentum' of parameter 1 'b'\) has dtype <U8",
    ),
    (
        "unknown-path",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: s,
        dict(order=["w", "b", "x"]),
        r".*unknown paths \['x'\], lacks \['s'\], repeats \[\]\. The paths are \['b', 's', 'w'\]",
    ),
    (
        "twice",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: s,
        dict(order=["w", "b", "b"]),
        r".*lacks \['s'\], repeats \['b'\]",
    ),
    (
        "short-order",
        lambda: jk.Adam(learning_rate=LR),
        lambda s: s,
        dict(order=["w", "b"]),
        r"order must list each of the params' 3 paths once, in model.trainable_variables order; "
        r".*lacks \['s'\]",
    ),
]


@pytest.mark.parametrize("name, make, corrupt, kwargs, match", ERRORS, ids=[e[0] for e in ERRORS])
def test_a_store_that_does_not_fit_is_refused(name, make, corrupt, kwargs, match):
    with pytest.raises(ValueError, match=CALL + match):
        _load(make(), corrupt(dict(_adam_store())), **kwargs)


def test_the_wrong_number_of_parameters_is_refused():
    params = {**_params(), "extra": np.zeros(2)}
    with pytest.raises(
        ValueError,
        match=CALL
        + r".*on 4 parameters has 10 Keras variables.*keys missing \['8', '9'\].*another number of parameters",
    ):
        _load(jk.Adam(learning_rate=LR), _adam_store(), params, order=["w", "b", "s", "extra"])


def test_an_optimizer_that_is_not_a_preset_result_is_refused():
    for tx in (optax.inject_hyperparams(jk.Adam)(learning_rate=LR), optax.adam(LR)):
        with pytest.raises(TypeError, match=CALL + r".* is not a jopt.compat.keras optimizer"):
            _load(tx, _adam_store())
    member = optax.chain(jk.Adam(learning_rate=LR))
    multi = jk.MultiOptimizer(jk.OptimizerMap(jk.SGD(), {"b": member}))
    with pytest.raises(TypeError, match=CALL + r".* is not a jopt.compat.keras optimizer"):
        _load(multi, _adam_store())


def test_save_needs_iterations_only_where_the_state_keeps_no_count():
    tx = jk.SGD(learning_rate=LR)
    params = {"w": jnp.zeros(2)}
    state = tx.init(params)
    call = r"^jopt.compat.keras.save_own_variables: "
    with pytest.raises(
        ValueError, match=call + r"jopt.compat.keras.SGD's state keeps no count .*iterations="
    ):
        jk.save_own_variables(tx, state, params)
    assert int(jk.save_own_variables(tx, state, params, iterations=4)["0"]) == 4
    adam = jk.Adam(learning_rate=LR)
    with pytest.raises(ValueError, match=call + r"iterations=4 differs from the count 0"):
        jk.save_own_variables(adam, adam.init(params), params, iterations=4)
    with pytest.raises(
        ValueError, match=call + r"opt_state is not a state of jopt.compat.keras.Adam"
    ):
        jk.save_own_variables(adam, state, params)
    with pytest.raises(TypeError, match=call + r"iterations=2.5 is invalid"):
        jk.save_own_variables(tx, state, params, iterations=2.5)


def test_a_broken_slot_map_fails_the_parity_check(monkeypatch):
    # The lockstep check has teeth: a converter that reads Keras' interleaved Adam slots
    # in the wrong order (velocity for momentum) sends jopt elsewhere than Keras.
    from jopt.compat.keras import _checkpoint

    real = _checkpoint._interleave

    def swapped(scope, members, param_paths, *trees, sign=1):
        return real(scope, members, param_paths, *reversed(trees), sign=sign)

    monkeypatch.setattr(_checkpoint, "_interleave", swapped)
    with pytest.raises(AssertionError, match="Keras -> jopt"):
        test_every_class_both_ways(CASES[2], np.float64)
