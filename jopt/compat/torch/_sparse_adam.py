"""``torch.optim.SparseAdam``: refused, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from jopt._core.checks import checked, public_name, unchecked
from jopt._core.hyperparams import Scalar, ScalarOrSchedule

REFUSED = unchecked("SparseAdam refuses every call, whatever its arguments")


@checked(lr=REFUSED, betas=REFUSED, eps=REFUSED, maximize=REFUSED)
def SparseAdam(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    maximize: bool = False,
) -> NoReturn:
    """``torch.optim.SparseAdam`` has no JAX counterpart: calling it raises NotImplementedError.

    SparseAdam updates only the rows a sparse gradient touches (``nn.Embedding(sparse=True)``),
    leaving the moments of the other rows as they are. JAX has no sparse gradients:
    ``jax.grad`` of an embedding lookup is a dense array, zero in the rows not looked up.
    Use :func:`Adam` (``jopt.compat.torch.Adam``; it also decays the moments of untouched
    rows, as PyTorch's dense Adam does), or keep rows out of the update with
    ``optax.masked``. The signature is PyTorch's, so a ported call fails with this reason.

    Args:
      lr: PyTorch's, not used.
      betas: PyTorch's, not used.
      eps: PyTorch's, not used.
      maximize: PyTorch's, not used.

    Returns:
      Nothing: it always raises ``NotImplementedError``.

    >>> import jopt.compat.torch as jt
    >>> jt.SparseAdam(lr=1e-3)
    Traceback (most recent call last):
    ...
    NotImplementedError: jopt.compat.torch.SparseAdam: JAX has no sparse gradients ...
    """
    del lr, betas, eps, maximize
    raise NotImplementedError(
        f"{public_name(SparseAdam)}: JAX has no sparse gradients (jax.grad of an embedding "
        "lookup is a dense array), so there is no sparse update to reproduce. Use the dense "
        "update, jopt.compat.torch.Adam (it also decays the moments of rows that got no "
        "gradient, which SparseAdam leaves alone)."
    )
