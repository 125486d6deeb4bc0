"""The documentation site: it builds with warnings as errors, has an entry for every public
name (walked here from the ``__all__`` lists, so future names are covered), turns the
README's guides and docs/*.md into pages, and every internal link and image resolves.

The site is built once per session into a temporary folder (about 5 s).
"""

from __future__ import annotations

import html
import html.parser
import importlib.util
import inspect
import re
import sys
import types
import zlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import jopt

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "docs" / "site" / "build.py"


@pytest.fixture(scope="session")
def build_script():
    """docs/site/build.py, imported (in this process: jopt is imported already)."""
    spec = importlib.util.spec_from_file_location("jopt_site_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _tree(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if "__pycache__" not in p.parts
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory, build_script) -> Path:
    """The site, built once for the module by build.py's command line (Sphinx runs in a
    process of its own, warnings as errors)."""
    docs_before = _tree(ROOT / "docs")
    out = tmp_path_factory.mktemp("site") / "html"
    assert build_script.main(["--out", str(out)]) == 0, "strict docs build failed"
    assert _tree(ROOT / "docs") == docs_before, "the docs build wrote into the repository"
    return out


def test_build_documents_only_this_checkouts_jopt(build_script, tmp_path, monkeypatch):
    # jopt is imported from where Python finds it (an editable install of this checkout);
    # another copy would be documented in its place, so the build stops instead.
    assert build_script.imported_jopt() == ROOT / "jopt"
    monkeypatch.setattr(build_script, "imported_jopt", lambda: tmp_path / "jopt")
    with pytest.raises(SystemExit, match="pip install -e"):
        build_script.build(tmp_path / "html")
    assert not (tmp_path / "html").exists()


# ------------------------------------------------------------------ public names


def _public_modules() -> list[types.ModuleType]:
    """jopt and every jopt module reachable through ``__all__``."""
    found, todo = [], [jopt]
    while todo:
        module = todo.pop()
        found.append(module)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("jopt."):
                todo.append(obj)
    return found


def _public_names(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    # a module without __all__ (jopt.testing): the functions and classes it defines
    return [
        n
        for n, o in vars(module).items()
        if not n.startswith("_") and callable(o) and getattr(o, "__module__", "") == module.__name__
    ]


def _inventory(site: Path) -> dict[str, tuple[str, str]]:
    """objects.inv as {name: (role, uri)}, from Sphinx's documented v2 format."""
    *header, compressed = (site / "objects.inv").read_bytes().split(b"\n", 4)
    assert header[0] == b"# Sphinx inventory version 2", header[0]
    body = zlib.decompress(compressed).decode()
    entries = {}
    for line in body.splitlines():
        m = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)", line)
        if m:
            name, role, _, uri, _ = m.groups()
            entries[name] = (role, uri.replace("$", name) if uri.endswith("$") else uri)
    return entries


def missing_entries(inventory: dict[str, tuple[str, str]]) -> list[str]:
    """Public modules and names that have no Python entry in the site's inventory."""
    missing = []
    for module in _public_modules():
        if inventory.get(module.__name__, ("",))[0] != "py:module":
            missing.append(module.__name__)
        for name in _public_names(module):
            qual = f"{module.__name__}.{name}"
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                continue  # documented on its own page, checked as a module above
            if not inventory.get(qual, ("",))[0].startswith("py:"):
                missing.append(qual)
    return missing


def test_expected_modules_are_walked():
    names = {m.__name__ for m in _public_modules()}
    expected = {
        "jopt",
        "jopt.schedules",
        "jopt.compat.torch",
        "jopt.compat.keras",
        "jopt.compat.torchao",
        "jopt.testing",
    }
    for optional in ("jopt.sharding", "jopt.compat.keras.schedules"):
        if optional in sys.modules or _importable(optional):
            expected.add(optional)
    assert expected <= names, f"not reachable through __all__: {sorted(expected - names)}"


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_every_public_name_has_an_entry(site):
    inventory = _inventory(site)
    assert missing_entries(inventory) == []
    # and each entry's page holds its anchor
    for module in _public_modules():
        for name in _public_names(module):
            qual = f"{module.__name__}.{name}"
            if qual not in inventory:
                continue
            page, _, anchor = inventory[qual][1].partition("#")
            assert f'id="{anchor or qual}"' in (site / page).read_text(), qual


@pytest.mark.slow
def test_completeness_check_fails_on_a_missing_name(site):
    inventory = _inventory(site)
    del inventory["jopt.adam"], inventory["jopt.compat.torch"]
    assert sorted(missing_entries(inventory)) == ["jopt.adam", "jopt.compat.torch"]


def _entry_html(site: Path, inventory, qual: str) -> str:
    """The HTML of one API entry: its signature <dt> and its <dd>."""
    page, _, anchor = inventory[qual][1].partition("#")
    text = (site / page).read_text()
    start = text.index(f'id="{anchor or qual}"')
    nxt = text.find('<dt class="sig sig-object py"', start + 1)
    return text[start : nxt if nxt != -1 else len(text)]


@pytest.mark.slow
def test_every_public_function_shows_signature_summary_and_doctest(site):
    inventory = _inventory(site)
    lacking = []
    for module in _public_modules():
        for name in _public_names(module):
            qual = f"{module.__name__}.{name}"
            if inventory.get(qual, ("",))[0] != "py:function":
                continue
            entry = _entry_html(site, inventory, qual)
            if 'class="sig-paren"' not in entry:
                lacking.append(f"{qual}: no signature")
            if '<div class="doctest' not in entry:
                lacking.append(f"{qual}: no doctest")
            if not re.search(r"<dd>\s*<p>", entry):
                lacking.append(f"{qual}: no description")
    assert lacking == []


@pytest.mark.slow
def test_args_and_returns_render_as_fields(site):
    """napoleon turns every docstring's Google-style Args: and Returns: into the fields of
    its entry (tests/docs/test_docstrings.py checks the docstrings have them)."""
    inventory = _inventory(site)
    lacking = []
    for module in _public_modules():
        for name in _public_names(module):
            qual = f"{module.__name__}.{name}"
            role = inventory.get(qual, ("",))[0]
            if role not in ("py:function", "py:class"):
                continue
            try:
                takes = bool(inspect.signature(getattr(module, name)).parameters)
            except (TypeError, ValueError):  # a TypedDict
                takes = False
            entry = _entry_html(site, inventory, qual)
            if takes and ">Parameters<" not in entry:
                lacking.append(f"{qual}: no Parameters field")
            if role == "py:function" and ">Returns<" not in entry:
                lacking.append(f"{qual}: no Returns field")
    assert lacking == []


@pytest.mark.slow
def test_formula_paragraphs_keep_their_lines(site):
    """A docstring's formula block is a line block (one line a statement), prose is not."""
    inventory = _inventory(site)
    adam = _entry_html(site, inventory, "jopt.adam")
    lines = re.findall(r'<div class="line">(.*?)</div>', adam)
    assert len(lines) == 4 and lines[0].startswith("m_t = β1 m_{t−1}"), lines
    assert "Defaults are the paper" not in "".join(lines)


# ------------------------------------------------------------------ guides and pages


def _readme_headings() -> list[str]:
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # no headings in code blocks
    return re.findall(r"^## (.+?)\s*$", text, flags=re.M)


def _titles(page: Path) -> list[str]:
    """Texts of a page's h1 and h2 headings, tags and permalink marks removed."""
    heads = re.findall(r"<h[12]>(.*?)</h[12]>", page.read_text(), flags=re.S)
    return [_plain(h) for h in heads]


def _plain(fragment: str) -> str:
    """HTML text as written in Markdown: no tags, entities decoded, straight quotes."""
    text = html.unescape(re.sub(r"<[^>]+>|¶", "", fragment)).strip()
    return text.translate(str.maketrans("‘’“”", "''\"\""))


@pytest.mark.slow
def test_readme_guides_are_pages(site):
    titles = {t for page in site.glob("*.html") for t in _titles(page)}
    plain = [re.sub(r"`", "", h) for h in _readme_headings()]
    assert [h for h in plain if h not in titles] == []
    for wanted in (
        "The deck's algorithms",
        "Schedules",
        "Porting from PyTorch / Keras",
        "Fast training steps",
    ):
        assert wanted in plain, f"README lost the {wanted!r} guide"
    if any("mesh" in h.lower() for h in plain):  # the sharding guide, once the README has it
        assert any("mesh" in t.lower() for t in titles)
    schedules = (site / "schedules.html").read_text()
    assert re.search(r'<img[^>]+src="_images/schedules\.png"', schedules)
    assert (site / "_images" / "schedules.png").stat().st_size > 10_000


@pytest.mark.slow
def test_docs_markdown_files_are_pages(site):
    for name in ("parity", "benchmarks", "sweep", "optax-differences", "example-report/report"):
        first = (ROOT / "docs" / f"{name}.md").read_text().splitlines()[0].removeprefix("# ")
        assert first in _titles(site / "docs" / f"{name}.html"), name
    api = {p.stem for p in (site / "api").glob("*.html")}
    assert {
        "optimizers",
        "primitives",
        "schedules",
        "compat-torch",
        "compat-keras",
        "compat-torchao",
        "testing",
    } <= api


# ------------------------------------------------------------------ links


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") == "preconnect"):
                self.refs.append(a[key])


def broken_links(folder: Path) -> list[str]:
    """Every relative href/src of every HTML page whose file or #anchor is missing."""
    pages, broken = {}, []
    for page in folder.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text())
        pages[page.resolve()] = parser
    for page, parser in pages.items():
        for ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme or parts.netloc or ref.startswith("javascript:"):
                continue  # external: not checked offline
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(folder.resolve())}: {ref}"
            if not target.is_file():
                broken.append(where)
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    broken.append(where)
    return broken


@pytest.mark.slow
def test_every_internal_link_resolves(site):
    assert broken_links(site) == []
    # the README's cross-page links were kept as links
    fast = (site / "fast-training-steps.html").read_text()
    assert 'href="docs/benchmarks.html#compile-time-on-small-trees-the-count"' in fast


def test_link_check_fails_on_broken_links(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text(
        '<h1 id="top">A</h1><a href="sub/b.html#here">ok</a><a href="#top">ok</a>'
        '<a href="sub/b.html#gone">bad anchor</a><a href="missing.html">bad file</a>'
        '<img src="x.png"><a href="https://example.org/x">external</a>'
    )
    (tmp_path / "sub" / "b.html").write_text('<p id="here">B</p><a href="../a.html#top">ok</a>')
    assert broken_links(tmp_path) == [
        "a.html: sub/b.html#gone",
        "a.html: missing.html",
        "a.html: x.png",
    ]


def test_strict_build_fails_on_a_bad_reference(tmp_path, capsys):
    """The real build's settings turn an unresolved jopt reference into a failure (Sphinx
    in this process: the configuration imports jopt, imported already)."""
    from sphinx.cmd.build import build_main

    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text("Bad\n===\n\nSee :func:`jopt.no_such_optimizer`.\n")
    args = ["-b", "html", "-q", "-W", "-n", "-E", "-c", str(BUILD.parent)]
    assert build_main([*args, str(src), str(tmp_path / "out")]) != 0
    assert "jopt.no_such_optimizer" in capsys.readouterr().err
