"""What the checkpoint code of :mod:`jopt.compat.torch` and :mod:`jopt.compat.keras`
shares: reading ``order=``, the other library's numbering of the parameters."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from jopt._core.checks import UnnamedTypeError, UnnamedValueError


def resolve_order(
    order: Any, paths: list[str], numbering: str, aliases: Sequence[str] = ()
) -> list[int] | None:
    """The leaf index of each entry of ``order`` (None for None).

    ``order`` lists the params' paths (or their ``aliases``, one per path) in the other
    library's ``numbering``, each parameter once; anything else raises, naming every
    non-string, unknown, missing and repeated entry.

    >>> from jopt.compat._port import resolve_order
    >>> resolve_order(["b", "a"], ["a", "b"], "PyTorch's parameter numbering")
    [1, 0]
    """
    if order is None:
        return None
    if isinstance(order, (str, bytes)) or not isinstance(order, Sequence):
        raise UnnamedTypeError(
            f"order={order!r} is invalid; order is a list of the params' paths, in {numbering}."
        )
    index: dict[str, int] = {}
    for i, name in [*enumerate(paths), *enumerate(aliases)]:
        index.setdefault(name, i)
    entries: list[Any] = list(typing.cast(Sequence[Any], order))
    bad = [e for e in entries if not isinstance(e, str)]
    unknown = [e for e in entries if isinstance(e, str) and e not in index]
    got = [index[e] for e in entries if isinstance(e, str) and e in index]
    twice = sorted({paths[i] for i in got if got.count(i) > 1})
    missing = [p for i, p in enumerate(paths) if i not in got]
    if bad or unknown or missing or twice:
        raise UnnamedValueError(
            f"order must list each of the params' {len(paths)} paths once, in {numbering}; "
            f"it has non-strings {bad}, unknown paths {unknown}, lacks {missing}, repeats "
            f"{twice}. The paths are {paths}."
        )
    return got
