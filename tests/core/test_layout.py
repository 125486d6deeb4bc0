"""What a state field holds, declared on its NamedTuple (jopt/_core/layout.py): ``PerParam``
fields, ``Reduced`` statistics, ``declare`` for classes defined elsewhere."""

from __future__ import annotations

import typing
from typing import Annotated, NamedTuple

import jax
import jax.numpy as jnp
import optax

import jopt.sharding  # declares optax's states
from jopt._core.layout import PER_PARAM, PerParam, Reduced, declare, fields, is_state

if typing.TYPE_CHECKING:
    from collections.abc import Sequence  # never imported at run time: does not resolve


class Factored(NamedTuple):
    row: Annotated[jax.Array, Reduced(-1)]
    col: Annotated[jax.Array, Reduced(-2)]
    note: jax.Array


class Mixed(NamedTuple):
    count: jax.Array
    mu: PerParam
    stats: PerParam
    history: jax.Array


class Partly(NamedTuple):
    mu: PerParam
    shapes: Sequence[int]  # resolves only for a type checker


class Foreign(NamedTuple):
    acc: typing.Any
    count: typing.Any


def test_fields_reads_the_annotations():
    assert fields(Mixed) == {"mu": PER_PARAM, "stats": PER_PARAM}
    assert fields(Factored) == {"row": Reduced(-1), "col": Reduced(-2)}
    assert repr(PER_PARAM) == "PER_PARAM"


def test_an_annotation_that_does_not_resolve_leaves_out_only_its_field():
    assert fields(Partly) == {"mu": PER_PARAM}


def test_what_is_not_a_declared_namedtuple_declares_nothing():
    assert fields(tuple) == {} and fields(dict) == {}
    assert fields(Foreign) == {}
    assert fields(optax.EmptyState) == {}


def test_declare_declares_a_class_defined_elsewhere():
    assert fields(optax.ScaleByAdamState) == {"mu": PER_PARAM, "nu": PER_PARAM}
    assert fields(optax.TraceState) == {"trace": PER_PARAM}

    class Theirs(NamedTuple):  # another library's state, annotated as it likes
        acc: typing.Any
        count: typing.Any

    assert fields(Theirs) == {}  # read (and cached) before the declaration
    declare(Theirs, acc=PER_PARAM)
    assert fields(Theirs) == {"acc": PER_PARAM}
    assert jopt.sharding.declare is declare and jopt.sharding.PerParam is PerParam


def test_is_state_is_a_namedtuple_instance():
    assert is_state(Mixed(jnp.zeros(()), {}, {}, jnp.zeros(3)))
    assert is_state(optax.EmptyState())
    assert not is_state((1, 2)) and not is_state(jnp.zeros(2)) and not is_state(Mixed)
