"""jopt.compat.torch.SparseAdam (jopt/compat/torch/_sparse_adam.py) refuses, with the reason,
whatever it is called with."""

from __future__ import annotations

import inspect

import pytest
import torch

import jopt.compat.torch as jt


@pytest.mark.parametrize("kwargs", [{}, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, maximize=True)])
def test_sparse_adam_raises_with_the_reason(kwargs):
    with pytest.raises(NotImplementedError, match=r"SparseAdam: JAX has no sparse gradients.*Adam"):
        jt.SparseAdam(**kwargs)


def test_signature_is_torchs():
    # A ported call matches the signature and gets to the reason, not to a TypeError.
    ours = inspect.signature(jt.SparseAdam).parameters
    theirs = inspect.signature(torch.optim.SparseAdam).parameters
    assert list(ours) == list(theirs)[1:]
    assert all(ours[k].default == theirs[k].default for k in ours)
