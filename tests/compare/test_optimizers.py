"""``--optimizers``: a named optax or jopt transform that does not exist, or whose arguments
are not keyword=literal, is one line on stderr and exit code 2."""

from __future__ import annotations

import jax
import optax
import pytest

import jopt
from jopt.compare._cli import _optimizers


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("optax.no_such_transform", "optax.no_such_transform does not exist"),
        ("optax.sgd(0.9)", "arguments of 'optax.sgd(0.9)' must be keyword=literal"),
        ("optax.sgd(momentum=x)", "must be keyword=literal"),
    ],
)
def test_named_optimizer_errors(name, message, main_fails):
    assert message in main_fails(["--optimizers", f"sgd,{name}"])


# The names of issue 21's example run, and two more of jopt's.
BARE = ["lion", "adopt", "ademamix", "prodigy", "schedule_free_adamw", "adamw", "lamb"]


def test_a_bare_name_beyond_the_decks_is_jopts_optimizer():
    got = _optimizers(",".join(["adam", *BARE, "muon(ns_steps=3)"]))
    assert list(got) == ["adam", *BARE, "muon(ns_steps=3)"]
    params = {"w": jax.numpy.ones((3, 4))}
    for name in BARE:
        o = got[name]
        assert (o.name, o.label) == (name, name)
        tx, want = o.make(1e-2), getattr(jopt, name)(1e-2)
        grads = {"w": jax.numpy.arange(12.0).reshape(3, 4) / 7}
        u = tx.update(grads, tx.init(params), params)[0]
        w = want.update(grads, want.init(params), params)[0]
        assert optax.tree.norm(optax.tree.sub(u, w)) == 0.0


def test_a_bare_name_jopt_does_not_have_is_refused(main_fails):
    assert "unknown optimizer 'nope'" in main_fails(["--optimizers", "adam,nope"])
