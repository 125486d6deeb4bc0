"""What a transformation was built from: a record kept beside it, keyed by its ``init``.

A preset's result is an ``optax.GradientTransformation``, a NamedTuple that takes no
attributes. The checkpoint code of :mod:`jopt.compat.torch` and :mod:`jopt.compat.keras`
needs to know which class and which arguments built it, so each preset records them here.
The key is the ``init`` function itself, held weakly: a record lives as long as its
transformation.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Records of type ``T``, one per transformation.

    >>> import optax
    >>> from jopt._core.registry import Registry
    >>> built = Registry[str]()
    >>> tx = built.record(optax.sgd(0.1), "sgd")
    >>> built.of(tx), built.of(optax.sgd(0.1)), built.of(3)
    ('sgd', None, None)
    """

    def __init__(self) -> None:
        self._records: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()

    def record(self, tx: Any, info: T) -> Any:
        """Records that ``tx`` was built from ``info``; returns ``tx``."""
        self._records[tx.init] = info
        return tx

    def of(self, tx: Any) -> T | None:
        """What ``tx`` was built from (None: nothing recorded, e.g. a wrapped preset)."""
        try:
            return self._records.get(getattr(tx, "init", None))
        except TypeError:  # not weakly referenceable: not a recorded init
            return None
