"""Weight layouts of a port: PyTorch's and Flax's orders of a weight's axes.

A port converts weights to Flax's layouts: a ``Linear`` weight ``(out, in)`` becomes a
``Dense`` kernel ``(in, out)``, a convolution weight ``OIHW`` becomes ``HWIO``. Every
per-parameter state tensor of an optimizer (Adam's ``exp_avg``, SGD's
``momentum_buffer``, …) is laid out as its weight, so a checkpoint moves with the same
transform. The load and save functions of :mod:`jopt.compat.torch` and
:mod:`jopt.compat.keras` take ``layout=``:

- a :class:`Layout` (or any callable ``array -> array``), applied to every parameter;
- a dict from a parameter's path (``"encoder/layers/0/kernel"``, see
  :func:`path_string`) to a layout, for the parameters it names; the others keep theirs.

Loading applies ``layout`` (the checkpoint's layout to the params'); saving applies its
inverse, so only :func:`linear`, :func:`conv` or a :class:`Layout` (which knows its
inverse) can save.

>>> import numpy as np
>>> from jopt.compat import layout
>>> w = np.arange(6.0).reshape(2, 3)          # torch.nn.Linear(3, 2).weight: (out, in)
>>> layout.linear(w).shape                    # flax.linen.Dense(2) kernel: (in, out)
(3, 2)
>>> np.array_equal(layout.inverse_of(layout.linear, "dense/kernel")(layout.linear(w)), w)
True
>>> layout.conv(np.zeros((8, 3, 5, 5))).shape  # OIHW -> HWIO
(5, 5, 3, 8)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from jopt._core.checks import UnnamedTypeError, UnnamedValueError
from jopt._core.groups import path_string as path_string


class Layout(NamedTuple):
    """A change of a weight's layout and its inverse, each ``array -> array``.

    Calling a layout applies ``forward``. Both take and return NumPy arrays (or anything
    :func:`numpy.transpose` takes).

    Args:
      forward: the checkpoint's layout to the params' (used when loading).
      inverse: the params' layout to the checkpoint's (used when saving).
      name: how the layout prints.

    >>> import numpy as np
    >>> from jopt.compat.layout import Layout
    >>> flip = Layout(np.flipud, np.flipud, "flip")
    >>> flip(np.arange(3)), flip.inverse(flip(np.arange(3)))
    (array([2, 1, 0]), array([0, 1, 2]))
    """

    forward: Callable[[Any], Any]
    inverse: Callable[[Any], Any]
    name: str = "layout"

    def __call__(self, x: Any) -> Any:  # type: ignore[override]
        return self.forward(x)

    def __repr__(self) -> str:
        return f"jopt.compat.layout.{self.name}"


def linear(x: Any) -> Any:
    """``torch.nn.Linear``'s weight ``(out, in)`` to a Flax ``Dense`` kernel ``(in, out)``.

    A transpose of 2-D arrays; other arrays (biases) are returned as they are. It is its
    own inverse.

    Args:
      x: an array (NumPy, JAX or anything :func:`numpy.asarray` takes).

    Returns:
      ``x.T`` for a 2-D ``x``, else ``x``, as a NumPy array.

    >>> import numpy as np
    >>> from jopt.compat import layout
    >>> layout.linear(np.zeros((2, 3))).shape, layout.linear(np.zeros(3)).shape
    ((3, 2), (3,))
    """
    x = np.asarray(x)
    return np.swapaxes(x, -1, -2) if x.ndim == 2 else x


def conv(x: Any) -> Any:
    """A ``torch.nn.Conv{1,2,3}d`` weight ``(O, I, *spatial)`` to a Flax ``Conv`` kernel
    ``(*spatial, I, O)``: OIHW to HWIO in 2-D.

    Arrays of fewer than 3 axes (biases) are returned as they are. Its inverse, used when
    saving, is ``(*spatial, I, O) -> (O, I, *spatial)`` (:func:`inverse_of`).

    Args:
      x: an array (NumPy, JAX or anything :func:`numpy.asarray` takes).

    Returns:
      ``x`` with its axes moved, as a NumPy array.

    >>> import numpy as np
    >>> from jopt.compat import layout
    >>> layout.conv(np.zeros((8, 3, 5, 5))).shape
    (5, 5, 3, 8)
    >>> layout.inverse_of(layout.conv, "conv/kernel")(np.zeros((5, 5, 3, 8))).shape
    (8, 3, 5, 5)
    """
    x = np.asarray(x)
    if x.ndim < 3:
        return x
    return np.transpose(x, (*range(2, x.ndim), 1, 0))


def _conv_inverse(x: Any) -> Any:
    x = np.asarray(x)
    if x.ndim < 3:
        return x
    n = x.ndim
    return np.transpose(x, (n - 1, n - 2, *range(n - 2)))


_INVERSES: dict[Callable[[Any], Any], Callable[[Any], Any]] = {linear: linear, conv: _conv_inverse}


LayoutArg = Callable[[Any], Any] | Mapping[str, Callable[[Any], Any]] | None
"""What ``layout=`` takes: None, a layout for every parameter, or a dict path -> layout."""


def layouts_for(layout: LayoutArg, paths: list[str]) -> list[Callable[[Any], Any] | None]:
    """Each parameter's layout (None: as it is), for the parameters at ``paths``.

    Raises ``TypeError`` for a ``layout`` that is neither callable nor a dict, and
    ``ValueError`` for a dict key that names no parameter (listing the paths).

    Args:
      layout: None, a layout for every parameter, or a dict path -> layout.
      paths: the parameters' paths (:func:`path_string`), in the order wanted.

    Returns:
      One entry per path: its layout, or None where the parameter keeps its layout.

    >>> from jopt.compat import layout
    >>> fns = layout.layouts_for({"dense/kernel": layout.linear}, ["dense/bias", "dense/kernel"])
    >>> fns == [None, layout.linear]
    True
    """
    if layout is None:
        return [None] * len(paths)
    if isinstance(layout, Mapping):
        unknown = sorted(set(layout) - set(paths))
        if unknown:
            raise UnnamedValueError(
                f"layout names {unknown}, which are not parameter paths; the paths are {paths}."
            )
        for key, value in layout.items():
            if not callable(value):
                raise UnnamedTypeError(
                    f"layout[{key!r}]={value!r} is invalid; a layout is a function "
                    "array -> array, e.g. jopt.compat.layout.linear."
                )
        return [layout.get(p) for p in paths]
    if callable(layout):
        return [layout] * len(paths)
    raise UnnamedTypeError(
        f"layout={layout!r} is invalid; layout is None, a function array -> array (e.g. "
        "jopt.compat.layout.linear) or a dict from a parameter's path to one."
    )


def inverse_of(fn: Callable[[Any], Any] | None, path: str) -> Callable[[Any], Any] | None:
    """The inverse of the layout ``fn`` of the parameter at ``path``, for saving.

    Raises ``TypeError`` when ``fn`` is a plain function, whose inverse is unknown.

    Args:
      fn: the parameter's layout (an entry of :func:`layouts_for`), or None.
      path: the parameter's path, for the error message.

    Returns:
      ``fn.inverse``, or None when ``fn`` is None.

    >>> from jopt.compat import layout
    >>> flip = layout.Layout(np.flipud, np.flipud, "flip")
    >>> layout.inverse_of(flip, "w") is np.flipud, layout.inverse_of(None, "w")
    (True, None)
    """
    if fn is None:
        return None
    inverse = _INVERSES.get(fn) or getattr(fn, "inverse", None)
    if not callable(inverse):
        raise UnnamedTypeError(
            f"the layout of {path!r} is {fn!r}, a plain function; this needs its inverse "
            "(to save, or to find PyTorch's shape of the parameter), so give "
            "jopt.compat.layout.linear, conv or a Layout(forward, inverse)."
        )
    return inverse


__all__ = ["Layout", "LayoutArg", "conv", "inverse_of", "layouts_for", "linear", "path_string"]
