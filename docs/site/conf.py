"""Sphinx configuration of jopt's site. Build with ``python docs/site/build.py`` (see BUILD.md).

build.py assembles the sources (README sections, docs/*.md, API pages from ``__all__``)
in a temporary folder and runs Sphinx on it with this folder as the configuration folder.
"""

from __future__ import annotations

import os
import re

os.environ.setdefault("KERAS_BACKEND", "jax")

import jopt  # noqa: E402  (the installed one: build.py checks it is this checkout's)

project = "jopt"
author = "the jopt authors"
copyright = "the jopt authors"  # noqa: A001 (Sphinx's name)
release = version = jopt.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon", "myst_parser"]
# Google-style Args:/Returns: sections (napoleon), no reST field lists by hand.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# Every cross reference to a jopt object must resolve (-n makes unresolved ones warnings,
# -W makes warnings errors). Objects of other libraries (jax, optax, typing, builtins)
# cannot be linked offline, so only their references are exempt.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!jopt(\.|$)).*")]

# `single backticks` are inline code, as in Markdown; links are written with roles.
default_role = "code"

autodoc_member_order = "bysource"
autodoc_preserve_defaults = True  # 1e-3 stays 1e-3 in signatures
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
python_maximum_signature_line_length = 88  # longer signatures: one parameter a line
python_use_unqualified_type_names = True
add_module_names = True
autosummary_generate = False

myst_heading_anchors = 3  # GitHub's anchors: docs/benchmarks.md#compile-time-on-...
myst_enable_extensions = ["strikethrough"]
suppress_warnings: list[str] = []

html_theme = "furo"
html_title = f"jopt {release}"
html_static_path = ["_static"]
html_css_files = ["jopt.css"]
html_copy_source = False
html_show_sourcelink = False
pygments_style = "friendly"
pygments_dark_style = "monokai"


# ------------------------------------------------------------ plain-text formulas
# Docstrings write formulas in Unicode plain text, one statement a line, as the deck
# does. reST would run those lines together into one paragraph and read |B| as a
# substitution; these rules keep them as written (the rules in short: BUILD.md, "Docs").


_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


def _escape_bars(line: str) -> str:
    """``|`` outside inline literals is a character, not a substitution reference."""
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _is_formula(par: list[str]) -> bool:
    """Two or more lines of statements: each line but the last ends in ``,``/``;`` or
    separates statements with two spaces, and one of them assigns (``=`` or ``←``)
    outside inline literals. A literal that runs over a line break keeps it prose."""
    if len(par) < 2 or any(line.count("``") % 2 for line in par):
        return False
    text = [_LITERAL.sub("", line).strip() for line in par]
    if not any("=" in t or "←" in t for t in text):
        return False
    return all(t.endswith((",", ";")) or "  " in t for t in text[:-1])


# directives, doctests, lists, tables, explicit line blocks, field lists
_STRUCTURAL = re.compile(r"^(\.\. |>>>|[-*+] |\d+[.)] |[|+]|:\w[\w ]*:(\s|$))")


def _paragraphs(lines: list[str]) -> list[str]:
    """Rewrites prose paragraphs; leaves doctests, literal blocks and directives alone."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            out.append(lines[i])
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        par = lines[i:j]
        first = par[0].strip()
        literal_next = par[-1].rstrip().endswith("::")
        if first.startswith(":"):  # a field list (napoleon's Args:/Returns:): |x| is text
            out += [_escape_bars(line) for line in par]
        elif _STRUCTURAL.match(first):
            out += par
        else:
            par = [_escape_bars(line) for line in par]
            if _is_formula(par):
                par = [" " * indent + "| " + line.strip() for line in par]
            out += par
        i = j
        if literal_next or first.startswith(".. "):
            # the indented block that follows is literal (or a directive's body): keep it
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                out.append(lines[i])
                i += 1
    return out


def _process_docstring(app, what, name, obj, options, lines) -> None:
    del app, options
    fields = getattr(obj, "_fields", None)
    generated = fields and f"{obj.__name__}({', '.join(fields)}{',' * (len(fields) == 1)})"
    if what == "class" and fields is not None and obj.__doc__ == generated:
        # NamedTuple's generated docstring repeats the signature: say what it is instead.
        lines[:] = ["A NamedTuple of arrays: " + ", ".join(f"``{f}``" for f in fields) + "."]
        return
    lines[:] = _paragraphs(lines)


def _keep_explicit_signatures() -> None:
    # autodoc_preserve_defaults re-reads default values from the source. The Keras presets
    # spell their base options out in ``__signature__`` (jopt.compat.keras._common.
    # with_options): more parameters than the source has. Such a signature is already
    # what the page should show, so leave it alone.
    import importlib

    modules = [
        importlib.import_module(name)
        for name in (
            "sphinx.ext.autodoc.preserve_defaults",
            "sphinx.ext.autodoc._dynamic._signatures",
        )
    ]
    original = modules[0].update_default_value

    def update_default_value(obj, bound_method):
        if "__signature__" not in getattr(obj, "__dict__", {}):
            original(obj, bound_method)

    for module in modules:
        module.update_default_value = update_default_value


def setup(app):
    _keep_explicit_signatures()
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"parallel_read_safe": True}
