"""jopt/_core/groups.py: leaf paths, the three selectors, the errors of a bad grouping, and
the grouped transformation against optax.multi_transform."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from jopt._core.groups import ParamGroupsState, group_labels, param_groups, path_string

PARAMS = {
    "body": {"w": jnp.ones((3, 2)), "bias": jnp.ones(2)},
    "head": [jnp.ones((2, 2)), jnp.zeros(2)],
}


def test_paths_join_dict_keys_indices_and_attributes():
    class Box:  # a registered node with attribute keys
        def __init__(self, a):
            self.a = a

    jax.tree_util.register_dataclass(Box, data_fields=["a"], meta_fields=[])
    tree = {"x": [Box({"bias": 0.0})]}
    paths = [path_string(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]
    assert paths == ["x/0/a/bias"]


def test_the_three_selectors_agree():
    by_regex = group_labels([r".*/bias|head/1"], PARAMS)
    by_function = group_labels([lambda path, leaf: leaf.ndim == 1], PARAMS)
    by_tree = group_labels([{"body": {"w": False, "bias": True}, "head": [False, True]}], PARAMS)
    assert by_regex == by_function == by_tree == [0, 1, 1, 0]  # body/bias, body/w, head/0, head/1


def test_a_regex_must_match_the_whole_path():
    assert group_labels([r"bias|head/1"], PARAMS) == [1, 1, 1, 0]  # "bias" alone is no path


@pytest.mark.parametrize(
    "selectors, match",
    [
        (
            [r"body/.*", r".*bias"],
            r"param_groups\[0\] and param_groups\[1\] both select 'body/bias'",
        ),
        ([r"tail/.*"], r"param_groups\[0\] selects no parameter \(its 'params' is 'tail/\.\*'\)"),
        ([lambda path, leaf: 1], r"param_groups\[0\]\['params'\] returned 1 for 'body/bias'"),
        ([{"body": True}], r"param_groups\[0\]\['params'\] is a tree of another structure"),
        ([{"body": {"w": 1, "bias": 0}, "head": [0, 0]}], r"holds 0; a tree selector holds"),
    ],
)
def test_a_bad_grouping_names_the_groups_and_the_paths(selectors, match):
    with pytest.raises((TypeError, ValueError), match=match):
        group_labels(selectors, PARAMS)


def test_groups_equal_optax_multi_transform():
    a, b, c = jopt.sgd(0.1, momentum=0.9), jopt.adam(0.01), jopt.rmsprop(0.001)
    tx = param_groups([r".*/bias", r"head/0"], [a, b], c)
    labels = {"body": {"w": "c", "bias": "a"}, "head": ["b", "c"]}
    ref = optax.multi_transform({"a": a, "b": b, "c": c}, labels)
    params = jax.tree.map(lambda x: x * 0.5, PARAMS)
    s, r = tx.init(params), ref.init(params)
    assert isinstance(s, ParamGroupsState) and len(s.groups) == 3
    for k in range(3):
        grads = jax.tree.map(lambda x, k=k: jnp.sin(x + k), params)
        u, s = tx.update(grads, s, params)
        v, r = ref.update(grads, r, params)
        for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(v), strict=True):
            np.testing.assert_array_equal(x, y)


def test_without_leftover_leaves_there_is_no_default_group():
    tx = param_groups([r".*/bias|head/1", r"body/w|head/0"], [jopt.sgd(0.1)] * 2, jopt.adam(0.1))
    assert len(tx.init(PARAMS).groups) == 2
    rates = jopt.get_learning_rate(
        param_groups([r"body/.*"], [jopt.sgd(0.1)], jopt.sgd(0.2)).init(PARAMS)
    )
    np.testing.assert_allclose(rates, [0.1, 0.2])  # one rate per group, in order


def test_groups_meet_the_contract_under_jit():
    tx = param_groups([r".*/bias"], [jopt.adamw(0.1, weight_decay=0.0)], jopt.adamw(0.1))
    grads = jax.tree.map(lambda x: 0.3 * x + 0.1, PARAMS)
    jopt.testing.check_transformation(tx, PARAMS, grads)
