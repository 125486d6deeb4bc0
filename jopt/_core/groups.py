"""Parameter groups: one transformation per group of leaves, as PyTorch's ``param_groups``.

A group selects leaves by their path, written with ``/`` between the keys (dict keys,
sequence indices, attribute names: ``"encoder/layers/0/bias"``), in one of three ways:

- a regular expression, matched in full against the path;
- a callable ``(path, leaf) -> bool``;
- a pytree of Python bools shaped like the params.

Leaves that no listed group selects form one more group, run by ``default``, after the
listed ones (only when there are such leaves). A leaf selected by two groups, or a listed
group that selects nothing, is a ``ValueError`` at ``init`` naming the groups and the paths.
The state holds one inner state per group, in the groups' order (PyTorch's
``param_groups`` order, which fixes the parameter numbering of a state dict).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import optax

from jopt._core.checks import UnnamedTypeError, UnnamedValueError

Selector = str | Callable[[str, Any], bool] | Any
"""A regular expression, a callable ``(path, leaf) -> bool`` or a pytree of bools."""


class ParamGroupsState(NamedTuple):
    """One inner state per group: the listed groups in order, then the default group
    (when some leaf is in it)."""

    groups: tuple[Any, ...]


def path_string(path: Sequence[Any]) -> str:
    """A leaf's path with ``/`` between its keys: ``encoder/layers/0/bias``.

    Dict keys, sequence indices, attribute names and flattened indices each give one
    part, as :func:`jax.tree_util.keystr` lists them.

    Args:
      path: a key path, as :func:`jax.tree_util.tree_leaves_with_path` gives it.

    Returns:
      The keys joined by ``/``.

    >>> import jax
    >>> from jopt._core.groups import path_string
    >>> tree = {"encoder": {"layers": [{"bias": 0.0}]}}
    >>> [path_string(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]
    ['encoder/layers/0/bias']
    """
    parts: list[str] = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.FlattenedIndexKey):
            parts.append(str(key.key))
        else:
            parts.append(str(key))
    return "/".join(parts)


def _selected(selector: Selector, index: int, params: Any) -> list[bool]:
    """Which leaves of ``params`` (in flatten order) ``selector`` selects."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if isinstance(selector, str):
        pattern = re.compile(selector)
        return [pattern.fullmatch(path_string(p)) is not None for p, _ in leaves]
    if callable(selector):
        out: list[bool] = []
        for p, leaf in leaves:
            chosen = selector(path_string(p), leaf)
            if not isinstance(chosen, bool):
                raise UnnamedTypeError(
                    f"param_groups[{index}]['params'] returned {chosen!r} for "
                    f"{path_string(p)!r}; a selector function must return True or False."
                )
            out.append(chosen)
        return out
    structure = jax.tree.structure(params)
    try:
        flags = structure.flatten_up_to(selector)
    except (ValueError, TypeError):
        raise UnnamedValueError(
            f"param_groups[{index}]['params'] is a tree of another structure than the "
            f"params:\n  params: {structure}\n  params of the group: "
            f"{jax.tree.structure(selector)}"
        ) from None
    bad = [f for f in flags if not isinstance(f, bool)]
    if bad:
        raise UnnamedTypeError(
            f"param_groups[{index}]['params'] holds {bad[0]!r}; a tree selector holds "
            "Python bools, one per leaf."
        )
    return list(flags)


def group_labels(selectors: Sequence[Selector], params: Any) -> list[int]:
    """The group of each leaf of ``params`` (flatten order): the index of the listed group
    that selects it, or ``len(selectors)`` (the default group).

    >>> from jopt._core.groups import group_labels
    >>> params = {"head": {"w": 0.0, "bias": 0.0}, "body": {"w": 0.0}}
    >>> group_labels([r".*/bias", r"head/.*"], params)  # head/bias is in two groups
    Traceback (most recent call last):
    ...
    jopt._core.checks.UnnamedValueError: param_groups[0] and param_groups[1] both select ...
    >>> group_labels([r".*/bias", r"head/w"], params)
    [2, 0, 1]
    """
    paths = [path_string(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
    labels = [len(selectors)] * len(paths)
    for index, selector in enumerate(selectors):
        chosen = _selected(selector, index, params)
        if not any(chosen):
            raise UnnamedValueError(
                f"param_groups[{index}] selects no parameter (its 'params' is "
                f"{selector!r}); the paths are {paths}."
            )
        for i, c in enumerate(chosen):
            if not c:
                continue
            if labels[i] != len(selectors):
                raise UnnamedValueError(
                    f"param_groups[{labels[i]}] and param_groups[{index}] both select "
                    f"{paths[i]!r}; a parameter belongs to one group."
                )
            labels[i] = index
    return labels


def _masked(tree: Any, labels: list[int], group: int) -> Any:
    leaves, structure = jax.tree.flatten(tree)
    return structure.unflatten(
        [x if g == group else optax.MaskedNode() for x, g in zip(leaves, labels, strict=True)]
    )


def groups_in_use(n_listed: int, labels: list[int]) -> list[int]:
    """The groups a state holds: every listed group, then the default one if used."""
    return list(range(n_listed)) + ([n_listed] if n_listed in labels else [])


def param_groups(
    selectors: Sequence[Selector],
    transforms: Sequence[optax.GradientTransformation],
    default: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
    """``transforms[i]`` on the leaves ``selectors[i]`` selects, ``default`` on the rest.

    Args:
      selectors: one per listed group (see the module's docstring).
      transforms: one per listed group.
      default: the transformation of the leaves no listed group selects.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`ParamGroupsState`.
    """
    selectors, transforms = list(selectors), list(transforms)
    every = [optax.with_extra_args_support(t) for t in [*transforms, default]]
    n = len(selectors)

    def init_fn(params: Any) -> ParamGroupsState:
        labels = group_labels(selectors, params)
        return ParamGroupsState(
            tuple(every[g].init(_masked(params, labels, g)) for g in groups_in_use(n, labels))
        )

    def update_fn(
        updates: Any, state: Any, params: Any = None, **extra_args: Any
    ) -> tuple[Any, ParamGroupsState]:
        state = typing.cast(ParamGroupsState, state)
        labels = group_labels(selectors, updates if params is None else params)
        used = groups_in_use(n, labels)
        if len(used) != len(state.groups):
            raise UnnamedValueError(
                f"the state holds {len(state.groups)} groups and these params form "
                f"{len(used)}; init the state from params of the same structure."
            )
        out = list(jax.tree.leaves(updates))
        new_states = []
        for g, inner in zip(used, state.groups, strict=True):
            sub_params = None if params is None else _masked(params, labels, g)
            u, inner = every[g].update(_masked(updates, labels, g), inner, sub_params, **extra_args)
            flat = jax.tree.leaves(u, is_leaf=lambda x: isinstance(x, optax.MaskedNode))
            for i, (x, label) in enumerate(zip(flat, labels, strict=True)):
                if label == g:
                    out[i] = x
            new_states.append(inner)
        return jax.tree.structure(updates).unflatten(out), ParamGroupsState(tuple(new_states))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
