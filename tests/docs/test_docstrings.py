"""Every public function and class documents itself the same way (Google style, rendered by
Sphinx's napoleon): a description or formula first, a doctest, an ``Args:`` section naming
every parameter of the signature, and for a function a ``Returns:`` section.

Public means reached through ``__all__`` from ``jopt`` (jopt.testing: the functions and
classes it defines), so a name added later is checked with no edit here. Not checked: type
aliases and constants (``jopt.Schedule``, ``jopt.sharding.PER_PARAM``), which have no
signature. A ``**options:`` entry documents, as a group, the keyword arguments that the
function's signature spells out and its code collects in ``**options`` (Keras' base options).
"""

from __future__ import annotations

import inspect
import re
import types
import typing

import pytest

import jopt

SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
ENTRY = re.compile(r"^(\*{0,2}\w+)(?:\s*\([^)]*\))?:(\s|$)")


def public_modules() -> list[types.ModuleType]:
    """jopt and every jopt module reached through ``__all__``."""
    found, todo = {}, [jopt]
    while todo:
        module = todo.pop()
        found[module.__name__] = module
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("jopt."):
                todo.append(obj)
    return list(found.values())


def public_objects() -> dict[str, object]:
    """``module.name`` -> every public function and class."""
    out = {}
    for module in public_modules():
        names = getattr(module, "__all__", None)
        if names is None:  # jopt.testing: what it defines
            names = [
                n
                for n, o in vars(module).items()
                if getattr(o, "__module__", "") == module.__name__
            ]
        for name in names:
            obj = getattr(module, name)
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)):
                out[f"{module.__name__}.{name}"] = obj
    return out


def sections(doc: str) -> tuple[str, dict[str, list[str]]]:
    """The text before the first section, and each section's indented lines."""
    head, out, current = [], {}, None
    for line in doc.splitlines():
        m = SECTION.match(line)
        if m:
            current = out.setdefault(m.group(1), [])
        elif current is not None and (not line.strip() or line[0].isspace()):
            current.append(line)
        else:
            current = None
            head.append(line)
    return "\n".join(head), out


def documented_args(lines: list[str]) -> list[str]:
    """The names of an ``Args:`` section's entries (its least indented lines)."""
    body = [line for line in lines if line.strip()]
    if not body:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in body)
    names = []
    for line in body:
        if len(line) - len(line.lstrip()) == indent:
            m = ENTRY.match(line.strip())
            names.append(m.group(1) if m else f"<not an entry: {line.strip()!r}>")
    return names


def parameters(obj) -> tuple[list[str], dict[str, list[str]]]:
    """The parameters to document, and the ones a ``**name`` entry covers as a group."""
    try:
        public = inspect.signature(obj)
    except (TypeError, ValueError):  # a TypedDict: its keys
        return list(typing.get_type_hints(obj)) if typing.is_typeddict(obj) else [], {}
    code = inspect.signature(inspect.unwrap(obj)) if not inspect.isclass(obj) else public
    groups = {
        f"**{p.name}": [n for n in public.parameters if n not in code.parameters]
        for p in code.parameters.values()
        if p.kind == p.VAR_KEYWORD
    }
    names = list(public.parameters)  # a class's: its constructor's, less self
    stars = {p.kind: p.name for p in public.parameters.values()}
    for kind, prefix in (
        (inspect.Parameter.VAR_POSITIONAL, "*"),
        (inspect.Parameter.VAR_KEYWORD, "**"),
    ):
        if kind in stars:
            names[names.index(stars[kind])] = prefix + stars[kind]
    return names, groups


def problems(obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    found = []
    head, parts = sections(doc)
    description = head.split(">>>")[0].strip()
    if not description:
        found.append("no description or formula before its sections")
    if ">>>" not in doc:
        found.append("no doctest")
    names, groups = parameters(obj)
    if typing.is_typeddict(obj):  # its keys, as ``key`` in the text
        found += [
            f"key {k!r} not described" for k in names if not re.search(f"``{k}(=[^`]*)?``", doc)
        ]
    elif names and "Args" not in parts:
        found.append(f"no Args: section (parameters {names})")
    elif names:
        listed = documented_args(parts["Args"])
        covered = set(listed) | {n for g in listed for n in groups.get(g, [])}
        found += [f"Args: lacks {n}" for n in names if n not in covered]
        found += [
            f"Args: names {n}, not a parameter" for n in listed if n not in names + list(groups)
        ]
    if not inspect.isclass(obj) and "Returns" not in parts:
        found.append("no Returns: section")
    return found


def test_every_public_function_and_class_has_description_doctest_args_and_returns():
    lacking = {name: p for name, obj in public_objects().items() if (p := problems(obj))}
    assert lacking == {}, "\n".join(f"{n}: {'; '.join(p)}" for n, p in lacking.items())


def test_the_walk_reaches_every_public_module():
    names = {m.__name__ for m in public_modules()}
    assert {
        "jopt",
        "jopt.schedules",
        "jopt.compat.torch",
        "jopt.compat.keras",
        "jopt.compat.keras.schedules",
        "jopt.compat.bitsandbytes",
        "jopt.sharding",
        "jopt.testing",
    } <= names
    objects = public_objects()
    assert {"jopt.adam", "jopt.ScaleByAdamState", "jopt.compat.keras.Adam"} <= set(objects)
    assert "jopt.testing.check_transformation" in objects and "jopt.Schedule" not in objects


def _documented(**sections_text: str):
    def f(a, b=1, *rest, key=None, **options):
        """Adds."""

    f.__doc__ = "Adds a and b.\n\n" + "\n\n".join(
        f"{name}:\n{text}" for name, text in sections_text.items()
    )
    return f


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            dict(
                Args="  a: x.\n  b: y.\n  *rest: more.\n  key: k.\n  **options: o.",
                Returns="  a + b.\n\n>>> 1\n1",
            ),
            [],
        ),
        (
            dict(
                Args="  a: x.\n  b: y,\n    two lines.\n  *rest: more.\n  **options: o.",
                Returns="  s.\n\n>>> 1\n1",
            ),
            ["Args: lacks key"],
        ),
        (
            dict(Args="  a: x.\n  b: y.\n  *rest: r.\n  key: k.\n  **options: o.\n  c: gone."),
            ["no doctest", "Args: names c, not a parameter", "no Returns: section"],
        ),
        (
            dict(Returns="  s.\n\n>>> 1\n1"),
            ["no Args: section (parameters ['a', 'b', '*rest', 'key', '**options'])"],
        ),
    ],
    ids=["complete", "one-missing", "stale-name-no-doctest-no-returns", "no-args"],
)
def test_the_check_finds_what_a_docstring_lacks(doc, expected):
    assert problems(_documented(**doc)) == expected
