"""jopt/_core/control.py: a branch taken in Python when its predicate is concrete, by
jax.lax.cond when it is traced."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from jopt._core.control import cond


@pytest.mark.parametrize("pred, want", [(True, 1.0), (False, 2.0)])
def test_a_concrete_predicate_runs_only_the_taken_branch(pred, want):
    ran = []

    def one():
        ran.append("one")
        return jnp.asarray(1.0)

    def two():
        ran.append("two")
        return jnp.asarray(2.0)

    assert float(cond(jnp.asarray(pred), one, two)) == want
    assert ran == (["one"] if pred else ["two"])


def test_a_traced_predicate_is_lax_cond():
    traced = []

    def f(p):
        def one():
            traced.append("one")
            return jnp.asarray(1.0)

        def two():
            traced.append("two")
            return jnp.asarray(2.0)

        return cond(p, one, two)

    jitted = jax.jit(f)
    assert float(jitted(jnp.asarray(False))) == 2.0
    assert sorted(traced) == ["one", "two"]  # both branches traced, as lax.cond does
    assert float(jitted(jnp.asarray(True))) == 1.0
