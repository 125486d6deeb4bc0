"""``--optimizers``: a named optax or jopt transform that does not exist, or whose arguments
are not keyword=literal, is one line on stderr and exit code 2."""

from __future__ import annotations

import pytest


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
