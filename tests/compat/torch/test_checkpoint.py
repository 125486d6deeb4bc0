"""jopt/compat/torch/_checkpoint.py: PyTorch optimizer checkpoints, both ways, against
real torch.optim optimizers.

Each case runs both directions in lockstep (the same gradient arrays fed to both):
load: torch steps 7 times, its state dict goes through a file into
``jt.load_state_dict``, then 7 more steps of each agree; save: jopt steps 7 times,
``jt.state_dict`` (each array through ``torch.as_tensor``) goes into torch's
``load_state_dict``, then 7 more steps of each agree. The saved state loads back bit for
bit. LBFGS evaluates the loss itself: torch's closure evaluates the JAX loss at torch's
parameters, so only the optimizers' arithmetic can differ.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
import jopt.schedules
from jopt._core.groups import group_labels, path_string
from jopt.compat import layout as jl

STEPS = 7
SHAPES = {"w": (3, 4), "b": (4,)}
MATRICES = {"w": (3, 4), "v": (4, 3)}


@dataclass
class Case:
    name: str  # torch.optim's class
    kwargs: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)  # {"params": regex, ...}
    shapes: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(SHAPES))
    load_step: bool = False  # load needs step= (torch keeps none, jopt counts)
    save_step: bool = False  # save needs step= (jopt keeps none, torch does)
    complex_leaf: bool = False  # one more parameter "c", complex
    scheduler: bool = False  # StepLR(step_size=3, gamma=0.5) on every group
    id: str = ""

    def __str__(self) -> str:
        return self.id or self.name


CASES = [
    Case("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), id="SGD-nesterov"),
    Case("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), load_step=True, id="SGD-dampening"),
    Case(
        "Adam",
        dict(lr=0.02, amsgrad=True),
        groups=[{"params": "b", "lr": 0.01, "betas": (0.8, 0.99)}],
        id="Adam-amsgrad-groups",
    ),
    Case(
        "AdamW",
        dict(lr=0.02, weight_decay=0.1),
        groups=[{"params": "b", "weight_decay": 0.0}],
        id="AdamW-groups",
    ),
    Case("Adamax", dict(lr=0.02, weight_decay=0.01, maximize=True), id="Adamax-maximize"),
    Case("NAdam", dict(lr=0.02)),
    Case("RAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    Case("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    Case("Adagrad", dict(lr=0.1), save_step=True, id="Adagrad-stepless"),
    Case("RMSprop", dict(lr=0.01, momentum=0.9, centered=True), save_step=True),
    Case("Adadelta", dict(lr=1.0, weight_decay=0.01), save_step=True),
    Case("ASGD", dict(lr=0.05, lambd=1e-2, t0=3.0)),
    Case("Rprop", dict(lr=0.01), save_step=True),
    Case("Adafactor", dict(lr=0.05)),
    Case("Muon", dict(lr=0.02), shapes=dict(MATRICES)),
    Case("LBFGS", dict(lr=0.5, max_iter=3, history_size=4)),
    Case("Adam", dict(lr=0.02), complex_leaf=True, id="Adam-complex"),
    Case("ASGD", dict(lr=0.05, t0=3.0), complex_leaf=True, id="ASGD-complex"),
    Case(
        "AdamW",
        dict(lr=0.1),
        groups=[{"params": "b", "lr": 0.05}],
        scheduler=True,
        id="AdamW-StepLR-groups",
    ),
]


def loss_fn(params):
    """A quadratic with a quartic term (so that LBFGS keeps moving over 14 steps)."""
    total = 0.0
    for i, key in enumerate(sorted(params)):
        p = params[key]
        target = jnp.linspace(-1.0, 1.0, p.size, dtype=p.dtype).reshape(p.shape)
        total = total + (i + 1.0) * jnp.sum((p - target) ** 2) + 0.1 * jnp.sum(p**4)
    return total


@contextlib.contextmanager
def torch_default(dtype):
    """torch's default dtype as jopt's scalars (NAdam's Π, ASGD's η: float64 under x64
    when the test is float64)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def tensorize(tree):
    if isinstance(tree, dict):
        return {k: tensorize(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [tensorize(v) for v in tree]
    if isinstance(tree, np.ndarray):
        return torch.as_tensor(tree)
    return tree


class Run:
    """One case: the jopt preset, a torch optimizer on the same groups, the gradients."""

    def __init__(self, case: Case, dtype):
        self.case, self.dtype = case, dtype
        rng = np.random.default_rng(0)
        complex_dtype = np.complex128 if dtype == np.float64 else np.complex64

        def draw():
            out = {k: rng.normal(size=s).astype(dtype) for k, s in case.shapes.items()}
            if case.complex_leaf:
                c = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
                out["c"] = c.astype(complex_dtype)
            return out

        self.start = draw()
        self.grads = [draw() for _ in range(2 * STEPS)]
        extra: dict[str, Any] = {"param_groups": case.groups} if case.groups else {}
        if case.scheduler:
            extra["lr_scheduler"] = functools.partial(
                jopt.schedules.step_lr, step_size=3, gamma=0.5
            )
        self.tx = getattr(jt, case.name)(**case.kwargs, **extra)
        # torch's numbering: each group's leaves in flatten order, the default group last
        self.paths = [path_string(p) for p, _ in jax.tree_util.tree_leaves_with_path(self.start)]
        labels = group_labels([g["params"] for g in case.groups], self.start)
        self.torch_groups = [
            [self.paths[i] for i in range(len(self.paths)) if labels[i] == g]
            for g in sorted(set(labels))
        ]
        self.lbfgs = case.name == "LBFGS"
        self.update = self.tx.update if self.lbfgs else jax.jit(self.tx.update)

    def torch_opt(self, values, state_dict=None):
        """torch's optimizer on ``values`` (with its scheduler, which a loaded state dict
        resumes after STEPS steps)."""
        tensors = {k: torch.tensor(np.array(v), requires_grad=True) for k, v in values.items()}
        overrides = [{k: v for k, v in g.items() if k != "params"} for g in self.case.groups]
        groups = [
            {"params": [tensors[p] for p in paths], **(overrides[i] if i < len(overrides) else {})}
            for i, paths in enumerate(self.torch_groups)
        ]
        opt = getattr(torch.optim, self.case.name)(groups, **self.case.kwargs)
        if state_dict is not None:
            opt.load_state_dict(state_dict)
        self.scheduler = None
        if self.case.scheduler:
            last = -1 if state_dict is None else STEPS - 1
            self.scheduler = torch.optim.lr_scheduler.StepLR(
                opt, step_size=3, gamma=0.5, last_epoch=last
            )
        return tensors, opt

    def torch_step(self, tensors, opt, grads):
        if self.lbfgs:

            def closure():
                values = {k: jnp.asarray(t.detach().numpy()) for k, t in tensors.items()}
                loss, g = jax.value_and_grad(loss_fn)(values)
                for k, t in tensors.items():
                    t.grad = torch.tensor(np.asarray(g[k]))
                return torch.tensor(float(loss))

            opt.step(closure)
            return
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])
        opt.step()
        if self.scheduler is not None:
            self.scheduler.step()

    def jopt_step(self, params, state, grads):
        if self.lbfgs:
            value, g = jax.value_and_grad(loss_fn)(params)
            u, state = self.update(g, state, params, value=value, grad=g, value_fn=loss_fn)
        else:
            u, state = self.update(jax.tree.map(jnp.asarray, grads), state, params)
        return optax.apply_updates(params, u), state

    def continue_both(self, params, state, tensors, opt):
        errors = []  # np.max: a NaN fails the comparison
        for grads in self.grads[STEPS:]:
            self.torch_step(tensors, opt, grads)
            params, state = self.jopt_step(params, state, grads)
            for k, t in tensors.items():
                errors.append(np.max(np.abs(np.asarray(params[k]) - t.detach().numpy())))
            if self.case.name == "ASGD":  # the average, which the parameters never read
                ax = jopt.averaged_params(state)
                for k, t in tensors.items():
                    errors.append(np.max(np.abs(np.asarray(ax[k]) - opt.state[t]["ax"].numpy())))
        return float(np.max(errors))


def tolerance(dtype):
    return 1e-10 if dtype == np.float64 else 2e-5


def assert_identical(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def canonical_lbfgs(state):
    """LBFGS's ring with its oldest row first (loading starts the ring at row 0)."""
    m = state.old_dirs.shape[0]
    rows = (int(state.history_start) + np.arange(m)) % m
    return state._replace(
        old_dirs=state.old_dirs[rows],
        old_stps=state.old_stps[rows],
        ro=state.ro[rows],
        history_start=jnp.zeros_like(state.history_start),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_checkpoint_both_ways_matches_torch(case, dtype, tmp_path):
    run = Run(case, dtype)
    with torch_default(dtype):
        # load: torch's 7 steps, through a file, into jopt
        tensors, opt = run.torch_opt(run.start)
        for grads in run.grads[:STEPS]:
            run.torch_step(tensors, opt, grads)
        torch.save(opt.state_dict(), tmp_path / "opt.pt")
        saved = torch.load(tmp_path / "opt.pt")
        # copies: jnp.asarray may share the memory torch's next steps overwrite
        params = {k: jnp.asarray(np.array(t.detach().numpy())) for k, t in tensors.items()}
        state = jt.load_state_dict(
            run.tx,
            params,
            saved,
            order=[p for g in run.torch_groups for p in g],
            step=STEPS if case.load_step else None,
        )
        assert run.continue_both(params, state, tensors, opt) <= tolerance(dtype)

        # save: jopt's 7 steps into torch
        params = jax.tree.map(jnp.asarray, run.start)
        state = run.tx.init(params)
        for grads in run.grads[:STEPS]:
            params, state = run.jopt_step(params, state, grads)
        step = STEPS if case.save_step else None
        sd = jt.state_dict(run.tx, state, params, step=step)
        tensors, opt = run.torch_opt(params, tensorize(sd))
        if case.name == "LBFGS":  # the counters torch keeps and never reads
            mine, theirs = sd["state"][0], saved["state"][0]
            assert (mine["func_evals"], mine["n_iter"]) == (
                theirs["func_evals"],
                theirs["n_iter"],
            )
        # the saved state loads back bit for bit
        back = jt.load_state_dict(run.tx, params, sd, step=STEPS if case.load_step else None)
        if case.name == "LBFGS":
            assert_identical(canonical_lbfgs(back), canonical_lbfgs(state))
        else:
            assert_identical(back, state)
        assert run.continue_both(params, state, tensors, opt) <= tolerance(dtype)


LAYOUT_CASES = [
    ("Adam", dict(lr=0.02)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adafactor", dict(lr=0.05)),  # row_var and col_var swap
    ("LBFGS", dict(lr=0.5, max_iter=3, history_size=4)),  # flat vectors: order and layout
]


@pytest.mark.parametrize(("name", "kwargs"), LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_linear_layout_both_ways_matches_torch(name, kwargs, tmp_path):
    """torch's Linear weight (out, in) is jopt's (in, out) kernel (layout=linear), and
    torch numbers the weight first, which jopt's flatten order puts last (order=)."""
    rng = np.random.default_rng(1)
    torch_shapes = {"w": (3, 4), "b": (3,)}
    order = ["w", "b"]

    def draw():
        return {k: rng.normal(size=s) for k, s in torch_shapes.items()}

    def to_jopt(tree):
        return {"w": jnp.asarray(np.array(tree["w"]).T), "b": jnp.asarray(np.array(tree["b"]))}

    start, grads = draw(), [draw() for _ in range(2 * STEPS)]
    tx = getattr(jt, name)(**kwargs)
    update = tx.update if name == "LBFGS" else jax.jit(tx.update)

    def torch_opt(values, sd=None):
        tensors = {k: torch.tensor(np.array(values[k]), requires_grad=True) for k in order}
        opt = getattr(torch.optim, name)([tensors[k] for k in order], **kwargs)
        if sd is not None:
            opt.load_state_dict(sd)
        return tensors, opt

    def torch_step(tensors, opt, g):
        if name == "LBFGS":

            def closure():
                values = to_jopt({k: t.detach().numpy() for k, t in tensors.items()})
                loss, jg = jax.value_and_grad(loss_fn)(values)
                tensors["w"].grad = torch.tensor(np.asarray(jg["w"]).T.copy())
                tensors["b"].grad = torch.tensor(np.asarray(jg["b"]))
                return torch.tensor(float(loss))

            opt.step(closure)
            return
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        opt.step()

    def jopt_step(params, state, g):
        if name == "LBFGS":
            value, jg = jax.value_and_grad(loss_fn)(params)
            u, state = update(jg, state, params, value=value, grad=jg, value_fn=loss_fn)
        else:
            u, state = update(to_jopt(g), state, params)
        return optax.apply_updates(params, u), state

    def continue_both(params, state, tensors, opt):
        errors = []
        for g in grads[STEPS:]:
            torch_step(tensors, opt, g)
            params, state = jopt_step(params, state, g)
            theirs = to_jopt({k: t.detach().numpy() for k, t in tensors.items()})
            errors += [np.max(np.abs(np.asarray(params[k]) - theirs[k])) for k in order]
        return float(np.max(errors))

    with torch_default(np.float64):
        tensors, opt = torch_opt(start)
        for g in grads[:STEPS]:
            torch_step(tensors, opt, g)
        torch.save(opt.state_dict(), tmp_path / "opt.pt")
        saved = torch.load(tmp_path / "opt.pt")
        params = to_jopt({k: t.detach().numpy() for k, t in tensors.items()})
        state = jt.load_state_dict(tx, params, saved, order=order, layout=jl.linear)
        assert continue_both(params, state, tensors, opt) <= 1e-10

        params = to_jopt(start)
        state = tx.init(params)
        for g in grads[:STEPS]:
            params, state = jopt_step(params, state, g)
        sd = jt.state_dict(tx, state, params, order=order, layout={"w": jl.linear})
        assert [g["params"] for g in sd["param_groups"]] == [[0, 1]]
        back = jt.load_state_dict(tx, params, sd, order=order, layout={"w": jl.linear})
        if name == "LBFGS":
            assert_identical(canonical_lbfgs(back), canonical_lbfgs(state))
        else:
            assert_identical(back, state)
        torch_values = {"w": np.asarray(params["w"]).T, "b": np.asarray(params["b"])}
        tensors, opt = torch_opt(torch_values, tensorize(sd))
        assert continue_both(params, state, tensors, opt) <= 1e-10


# ------------------------------------------------------------------------------ errors


def adam_checkpoint(**kwargs):
    """torch.optim.Adam after 2 steps on (b, w) as jopt numbers them, as NumPy arrays."""
    rng = np.random.default_rng(2)
    tensors = [torch.tensor(rng.normal(size=s), requires_grad=True) for s in [(4,), (3, 4)]]
    opt = torch.optim.Adam(tensors, lr=0.01, **kwargs)
    for _ in range(2):
        for t in tensors:
            t.grad = torch.randn_like(t)
        opt.step()
    sd = opt.state_dict()
    state = {i: {k: v.numpy() for k, v in s.items()} for i, s in sd["state"].items()}
    return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}


PARAMS = {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)}


def broken(edit):
    sd = adam_checkpoint()
    edit(sd)
    return sd


def _wrong_shape(sd):
    sd["state"][1]["exp_avg"] = np.zeros((4, 3))


def _missing_key(sd):
    del sd["state"][0]["exp_avg_sq"]


def _extra_key(sd):
    sd["state"][0]["momentum_buffer"] = np.zeros(4)


def _one_param(sd):
    sd["param_groups"][0]["params"] = [0]
    del sd["state"][1]


def _half_stepped(sd):
    del sd["state"][1]


def _steps_differ(sd):
    sd["state"][1]["step"] = np.array(3.0, np.float32)


def _group_differs(sd):
    sd["param_groups"][0]["lr"] = 0.02
    sd["param_groups"][0]["betas"] = (0.8, 0.999)


def _complex_moment(sd):
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"] + 1j


def _not_an_array(sd):
    sd["state"][0]["exp_avg"] = "zeros"


def _unknown_number(sd):
    sd["param_groups"][0]["params"] = [0, 5]


def _stray_state(sd):
    sd["state"][7] = {}


LOAD_ERRORS = [
    (_wrong_shape, ValueError, r"state\[1\]\['exp_avg'\] \(parameter 'w'\) has shape \(4, 3\)"),
    (_missing_key, ValueError, r"state\[0\] \(parameter 'b'\).*lacks \['exp_avg_sq'\]"),
    (
        _extra_key,
        ValueError,
        r"state\[0\] \(parameter 'b'\).*extra keys \['momentum_buffer'\].*another optimizer",
    ),
    (
        _one_param,
        ValueError,
        r"1 parameters \(per group \[1\]\) and params has 2 leaves \(per group \[2\]\); the "
        r"checkpoint lacks parameters 1 \('w'\)",
    ),
    (_half_stepped, ValueError, r"state\[1\] \(parameter 'w'\) is missing"),
    (_steps_differ, ValueError, r"state\[1\]\['step'\] \(parameter 'w'\) is 3.0"),
    (
        _group_differs,
        ValueError,
        r"param_groups\[0\]\['lr'\] is 0.02 in the checkpoint and 0.01 in tx\n"
        r"\s*param_groups\[0\]\['betas'\] is \(0.8, 0.999\)",
    ),
    (_complex_moment, ValueError, r"state\[0\]\['exp_avg'\] \(parameter 'b'\) is complex"),
    (_not_an_array, TypeError, r"state\[0\]\['exp_avg'\] \(parameter 'b'\) is str"),
    (_unknown_number, ValueError, r"param_groups\[0\]\['params'\] holds 5"),
    (_stray_state, ValueError, r"entries \[7\] for parameters no group holds"),
]


@pytest.mark.parametrize(
    ("edit", "error", "match"), LOAD_ERRORS, ids=[e[0].__name__.strip("_") for e in LOAD_ERRORS]
)
def test_load_refuses_a_broken_checkpoint(edit, error, match):
    tx = jt.Adam(lr=0.01)
    jt.load_state_dict(tx, PARAMS, adam_checkpoint())  # the unbroken one loads
    with pytest.raises(error, match=r"(?s)jopt.compat.torch.load_state_dict: .*" + match):
        jt.load_state_dict(tx, PARAMS, broken(edit))


def test_load_refuses_another_class():
    sd = adam_checkpoint()
    with pytest.raises(ValueError, match=r"lacks \['momentum', .*another optimizer class"):
        jt.load_state_dict(jt.SGD(lr=0.01, momentum=0.9), PARAMS, sd)
    # the same group keys, another class's state keys
    with pytest.raises(
        ValueError,
        match=r"state\[0\] \(parameter 'b'\).*extra keys "
        r"\['exp_avg_sq'\] and lacks \['exp_inf'\].*another optimizer class",
    ):
        jt.load_state_dict(jt.Adamax(lr=0.01), PARAMS, adam_checkpoint())


def test_load_refuses_amsgrad_mismatch():
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['amsgrad'\] is True"):
        jt.load_state_dict(jt.Adam(lr=0.01), PARAMS, adam_checkpoint(amsgrad=True))


def test_load_checks_the_groups():
    tx = jt.Adam(lr=0.01, param_groups=[{"params": "b"}])
    with pytest.raises(ValueError, match=r"1 param_groups and tx has 2"):
        jt.load_state_dict(tx, PARAMS, adam_checkpoint())
    sd = adam_checkpoint()
    sd["param_groups"] = [
        {**sd["param_groups"][0], "params": [1]},
        {**sd["param_groups"][0], "params": [0]},
    ]
    with pytest.raises(ValueError, match=r"holds parameter 1 \('w'\), which tx puts in group 1"):
        jt.load_state_dict(tx, PARAMS, sd)
    sd["state"] = {0: sd["state"][1], 1: sd["state"][0]}
    jt.load_state_dict(tx, PARAMS, sd, order=["w", "b"])  # with w numbered 0


@pytest.mark.parametrize(
    ("call", "kwargs", "error", "match"),
    [
        ("load", dict(tx=optax.chain(jt.Adam())), TypeError, r"not a jopt.compat.torch preset"),
        ("save", dict(tx=optax.adam(1e-3)), TypeError, r"not a jopt.compat.torch preset"),
        ("load", dict(state_dict={"state": {}}), TypeError, r"the keys 'state' and 'param_groups'"),
        ("load", dict(order=["w"]), ValueError, r"lacks \['b'\]"),
        ("load", dict(order=["w", "x", "b"]), ValueError, r"unknown paths \['x'\]"),
        ("load", dict(layout={"x": jl.linear}), ValueError, r"layout names \['x'\]"),
        ("save", dict(layout=lambda x: x), TypeError, r"this needs its inverse"),
        ("load", dict(step=-1), ValueError, r"step=-1 is invalid"),
        ("save", dict(step=2.5), TypeError, r"step=2.5 is invalid"),
        ("load", dict(step=3), ValueError, r"step=3 and the checkpoint's step is 2"),
    ],
)
def test_bad_arguments(call, kwargs, error, match):
    args = dict(kwargs)
    tx = args.pop("tx", jt.Adam(lr=0.01))
    if call == "load":
        sd = args.pop("state_dict", adam_checkpoint())
        with pytest.raises(error, match="jopt.compat.torch.load_state_dict: .*" + match):
            jt.load_state_dict(tx, PARAMS, sd, **args)
    else:
        state = jt.Adam(lr=0.01).init(PARAMS)
        with pytest.raises(error, match="jopt.compat.torch.state_dict: .*" + match):
            jt.state_dict(tx, state, PARAMS, **args)


def test_step_is_needed_where_one_side_keeps_none():
    sgd = jt.SGD(lr=0.1, momentum=0.9, dampening=0.5)
    sd = {
        "state": {0: {"momentum_buffer": np.ones(4)}, 1: {"momentum_buffer": np.ones((3, 4))}},
        "param_groups": [
            dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0, nesterov=False,
                 maximize=False, params=[0, 1])
        ],
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"keeps no step count .* give step="):
        jt.load_state_dict(sgd, PARAMS, sd)
    assert int(jt.load_state_dict(sgd, PARAMS, sd, step=4)[0].count) == 4
    rms = jt.RMSprop()
    with pytest.raises(ValueError, match=r"state_dict: torch.optim.RMSprop keeps a step .* step="):
        jt.state_dict(rms, rms.init(PARAMS), PARAMS)
    assert jt.state_dict(rms, rms.init(PARAMS), PARAMS, step=0)["state"] == {}


def test_lbfgs_refuses_a_broken_state():
    tx = jt.LBFGS()
    sd = {
        "state": {0: {"func_evals": 3, "n_iter": 2, "d": np.zeros(16)}},
        "param_groups": [
            dict(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None, params=[0, 1])
        ],
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"state\[0\] \(parameter 'b'.*lacks \['H_diag'"):
        jt.load_state_dict(tx, PARAMS, sd)
    sd["state"][0] = {"func_evals": 1, "n_iter": 0}  # torch's first step stopped at once
    state = jt.load_state_dict(tx, PARAMS, sd)
    assert (int(state.func_evals), int(state.n_iter)) == (1, 0)
    assert jt.state_dict(tx, state, PARAMS)["state"] == sd["state"]


def test_before_the_first_step_torch_has_no_state():
    for tx, name in [(jt.Adam(), "Adam"), (jt.SGD(momentum=0.9), "SGD"), (jt.RMSprop(), "RMSprop")]:
        params = [torch.zeros(4, requires_grad=True), torch.zeros(3, 4, requires_grad=True)]
        kwargs = {"momentum": 0.9} if name == "SGD" else {}
        opt = getattr(torch.optim, name)(params, **kwargs)
        sd = opt.state_dict()
        state = jt.load_state_dict(tx, PARAMS, sd, step=0 if name == "SGD" else None)
        assert_identical(state, tx.init(PARAMS))
        mine = jt.state_dict(tx, state, PARAMS, step=0)
        assert (
            mine["state"] == {} and mine["param_groups"][0].keys() == sd["param_groups"][0].keys()
        )
        assert mine["param_groups"] == sd["param_groups"]


def test_layouts_that_cannot_follow_are_refused():
    params = {"k": jnp.zeros((2, 2, 3, 4))}  # HWIO, from torch's OIHW (4, 3, 2, 2)
    tx = jt.Adafactor()
    state = tx.init(params)
    _, state = tx.update({"k": jnp.ones((2, 2, 3, 4))}, state, params)
    with pytest.raises(ValueError, match=r"parameter 0 \('k'\): its layout moves the axes"):
        jt.state_dict(tx, state, params, layout=jl.conv)
    lbfgs = jt.LBFGS()
    sd = {
        "state": {0: {"func_evals": 1, "n_iter": 0}},
        "param_groups": [
            dict(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None, params=[0, 1])
        ],
    }  # fmt: skip
    sd["state"][0].update(
        d=np.zeros(16), t=0.1, old_dirs=[], old_stps=[], ro=[], H_diag=1,
        prev_flat_grad=np.zeros(16), prev_loss=0.0, n_iter=1,
    )  # fmt: skip
    with pytest.raises(TypeError, match=r"the layout of 'w' is .*a plain function"):
        jt.load_state_dict(lbfgs, PARAMS, sd, layout={"w": lambda x: x.T})
    jt.load_state_dict(lbfgs, PARAMS, sd, layout={"w": jl.linear})


def test_sgd_momentum_buffer_is_saved_from_the_first_step_on():
    """SGD keeps no count: a zero buffer is saved as none (PyTorch's first step sets the
    buffer to g, which a zero buffer gives too); without momentum nothing is kept."""
    tx = jt.SGD(lr=0.1, momentum=0.9)
    state = tx.init(PARAMS)
    assert jt.state_dict(tx, state, PARAMS)["state"] == {}
    _, state = tx.update(jax.tree.map(jnp.ones_like, PARAMS), state)
    assert sorted(jt.state_dict(tx, state, PARAMS)["state"]) == [0, 1]
    plain = jt.SGD(lr=0.1)
    _, state = plain.update(jax.tree.map(jnp.ones_like, PARAMS), plain.init(PARAMS))
    sd = jt.state_dict(plain, state, PARAMS)
    assert sd["state"] == {} and sd["param_groups"][0]["momentum"] == 0
