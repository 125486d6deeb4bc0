"""Build jopt's documentation site: ``python docs/site/build.py [--out DIR]``.

Nothing here is written by hand twice. The Sphinx sources are assembled in a temporary
folder (never in the repository) from what the repository already holds:

- ``index.md``: README.md's title, introduction and its first sections (``INDEX_SECTIONS``);
- one guide page per other ``## `` section of README.md, in README order, so a section
  added to the README becomes a page with no edit here;
- every Markdown file under ``docs/`` (parity, benchmarks, sweep, the example report) and
  ``BUILD.md`` as pages, with the images and files they link to;
- one API page per public module, found by walking ``__all__`` from ``jopt`` and
  classified by the rules in ``api_pages``; a name added to an ``__all__`` gets its entry
  with no edit here.

Sphinx then builds HTML with this folder's ``conf.py``, warnings as errors (``-W``) and
every cross reference checked (``nitpicky``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_OUT = ROOT / "docs" / "_build" / "html"
os.environ.setdefault("KERAS_BACKEND", "jax")

# README sections shown on the landing page; every other `## ` section is a guide page.
INDEX_SECTIONS = ("Two commands", "Ten lines")
# Markdown pages under docs/ listed first, in this order; any other one follows by name.
MEASUREMENT_ORDER = ("parity.md", "benchmarks.md", "sweep.md", "example-report/report.md")
# API pages in this order; a module not listed follows, by name, before jopt.testing.
MODULE_ORDER = (
    "jopt",
    "jopt.schedules",
    "jopt.compat",
    "jopt.compat.torch",
    "jopt.compat.keras",
    "jopt.compat.keras.schedules",
    "jopt.compat.bitsandbytes",
    "jopt.compat.torchao",
    "jopt.compat.schedulefree",
    "jopt.compat.prodigyopt",
    "jopt.compat.dadaptation",
    "jopt.sharding",
)
LAST_MODULES = ("jopt.testing",)
RESERVED = {"index", "api", "docs", "genindex", "search", "py-modindex", "BUILD"}
# Files copied from docs/ besides Markdown: what pages show or link to.
ASSET_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".csv", ".json", ".txt"}


# ---------------------------------------------------------------- README -> pages


@dataclasses.dataclass
class Section:
    title: str
    lines: list[str]

    @property
    def slug(self) -> str:
        """The page's file name: the title in lowercase words joined by hyphens."""
        words = re.sub(r"[^a-z0-9]+", "-", self.title.lower().replace("'", "")).strip("-")
        return words + "-guide" if words in RESERVED else words


def _headings(lines: list[str]):
    """(index, level, title) of each Markdown heading outside fenced code blocks."""
    fence = None
    for i, line in enumerate(lines):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark[0] * len(mark)
            elif mark.startswith(fence):
                fence = None
            continue
        h = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if fence is None and h:
            yield i, len(h.group(1)), h.group(2)


def split_readme(text: str) -> tuple[list[str], list[Section]]:
    """README.md as its preamble (title and introduction) and its ``## `` sections."""
    lines = text.splitlines()
    starts = [(i, title) for i, level, title in _headings(lines) if level == 2]
    if not starts:
        return lines, []
    preamble = lines[: starts[0][0]]
    sections = []
    for k, (i, title) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        sections.append(Section(title, lines[i + 1 : end]))
    return preamble, sections


def _promote(lines: list[str]) -> list[str]:
    """Headings one level up (### -> ##): a README section's subsections on its own page."""
    out = list(lines)
    for i, level, title in _headings(lines):
        out[i] = "#" * max(level - 1, 2) + " " + title
    return out


def _slugify(title: str) -> str:
    from myst_parser.mdit_to_docutils.base import default_slugify

    return default_slugify(title)


def _retarget_anchors(lines: list[str], owner: dict[str, str], here: str) -> list[str]:
    """``](#a)`` links to a heading that now lives on another page point at that page."""

    def fix(m: re.Match) -> str:
        page = owner.get(m.group(1))
        return m.group(0) if page in (None, here) else f"]({page}.md#{m.group(1)})"

    return [re.sub(r"\]\(#([^)\s]+)\)", fix, line) for line in lines]


def readme_pages(text: str) -> tuple[str, dict[str, str], list[Section]]:
    """The landing page, the guide pages (file stem -> Markdown) and the guide sections."""
    preamble, sections = split_readme(text)
    index_secs = [s for s in sections if s.title in INDEX_SECTIONS]
    guides = [s for s in sections if s.title not in INDEX_SECTIONS]
    owner = {}  # heading anchor -> page that holds it
    for s in index_secs:
        owner[_slugify(s.title)] = "index"
        owner.update({_slugify(t): "index" for _, _, t in _headings(s.lines)})
    for s in guides:
        owner[_slugify(s.title)] = s.slug
        owner.update({_slugify(t): s.slug for _, _, t in _headings(s.lines)})

    index = list(preamble)
    for s in index_secs:
        index += [f"## {s.title}", *s.lines]
    index = _retarget_anchors(index, owner, "index")
    pages = {}
    for s in guides:
        body = _retarget_anchors(_promote(s.lines), owner, s.slug)
        pages[s.slug] = "\n".join([f"# {s.title}", *body]) + "\n"
    return "\n".join(index) + "\n", pages, guides


def _local_links(text: str) -> list[str]:
    """Relative link and image targets of a Markdown text (no scheme, no pure anchor)."""
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    targets += re.findall(r"<img[^>]*\bsrc=\"([^\"]+)\"", text)
    out = []
    for t in targets:
        path = t.split("#", 1)[0]
        if path and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", path):
            out.append(path)
    return out


# ---------------------------------------------------------------- modules -> API pages


def public_names(module: types.ModuleType) -> list[str]:
    """``__all__``, or, for a module without one, the functions and classes it defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]


def public_modules(root: str = "jopt") -> list[types.ModuleType]:
    """``root`` and every module reached through ``__all__`` from it, depth first."""
    seen: dict[str, types.ModuleType] = {}

    def walk(module):
        if module.__name__ in seen:
            return
        seen[module.__name__] = module
        for name in public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith(root + "."):
                walk(obj)

    walk(importlib.import_module(root))
    return list(seen.values())


def _module_rank(name: str) -> tuple:
    if name in MODULE_ORDER:
        return (0, MODULE_ORDER.index(name), name)
    return (2 if name in LAST_MODULES else 1, 0, name)


def _returns_transform(obj) -> bool:
    try:
        ret = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return False
    return "GradientTransformation" in (ret if isinstance(ret, str) else repr(ret))


def _kind(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj) and (inspect.isfunction(obj) or inspect.isbuiltin(obj)):
        return "function"
    return "data"


@dataclasses.dataclass
class ApiPage:
    stem: str  # file name under api/
    title: str
    module: str  # the module whose names the page documents
    declares_module: bool  # the page carries the module's ``py:module`` entry (once per module)
    intro: str
    sections: list[tuple[str, list[str]]]  # (heading, names)


# Top-level jopt: building blocks the optimizers are made of go to the primitives page.
PRIMITIVE = re.compile(r"^(scale_by_|add_)|(^|_)weight_decay$")
LR_TRANSFORM = re.compile(r"(^|_)lr(_|$)")


def api_pages() -> list[ApiPage]:
    """One page per public module; ``jopt`` itself is split in optimizers and primitives.

    Rules, written once. In ``jopt``: ``scale_by_*``, ``add_*`` and ``*weight_decay`` are
    primitives; ``*State`` classes are the primitives' states; other functions that return
    a gradient transformation are optimizers (``*_lr_*`` ones are learning-rate
    transforms); the rest are helpers. In every other module: functions, then classes,
    then other values, each in ``__all__`` order, and submodules as links.
    """
    pages = []
    for module in sorted(public_modules(), key=lambda m: _module_rank(m.__name__)):
        name = module.__name__
        names = public_names(module)
        objs = {n: getattr(module, n) for n in names}
        kinds = {n: _kind(o) for n, o in objs.items()}
        if name == "jopt":
            prim = [n for n in names if kinds[n] == "function" and PRIMITIVE.search(n)]
            states = [n for n in names if kinds[n] == "class" and n.endswith("State")]
            rest = [n for n in names if kinds[n] != "module" and n not in prim + states]
            tx = [n for n in rest if kinds[n] == "function" and _returns_transform(objs[n])]
            lr = [n for n in tx if LR_TRANSFORM.search(n)]
            opt = [n for n in tx if n not in lr]
            helpers = [n for n in rest if n not in tx]
            pages.append(
                ApiPage(
                    "optimizers",
                    "Optimizers",
                    name,
                    True,
                    "The named optimizers; the transforms they are composed of are the "
                    ":doc:`primitives`.",
                    [
                        ("Named optimizers", opt),
                        ("Learning-rate transforms", lr),
                        ("Helpers", helpers),
                    ],
                )
            )
            pages.append(
                ApiPage(
                    "primitives",
                    "Primitives",
                    name,
                    False,
                    "The building blocks the :doc:`optimizers` are composed of: each holds one "
                    "piece of the math and composes with ``optax.chain``.",
                    [("Gradient transforms", prim), ("States", states)],
                )
            )
            continue
        by_kind = [
            ("Functions", [n for n in names if kinds[n] == "function"]),
            ("Classes", [n for n in names if kinds[n] == "class"]),
            ("Values", [n for n in names if kinds[n] == "data"]),
            ("Modules", [objs[n].__name__ for n in names if kinds[n] == "module"]),
        ]
        stem = name.removeprefix("jopt.").replace(".", "-")
        pages.append(ApiPage(stem, name, name, True, "", by_kind))
    return pages


def _rst_page(page: ApiPage) -> str:
    title = page.title
    out = [title, "=" * len(title), ""]
    if page.declares_module:
        out += [f".. automodule:: {page.module}", ""]
    out += [f".. currentmodule:: {page.module}", ""]
    if page.intro:
        out += [page.intro, ""]
    for heading, names in page.sections:
        if not names:
            continue
        out += [heading, "-" * len(heading), ""]
        if heading == "Modules":
            out += [f"- :mod:`{n}`" for n in names] + [""]
            continue
        out += [".. autosummary::", "   :nosignatures:", ""]
        out += [f"   {n}" for n in names] + [""]
        module = importlib.import_module(page.module)
        for n in names:
            kind = _kind(getattr(module, n))
            directive = {"function": "autofunction", "class": "autoclass"}.get(kind, "autodata")
            out += [f".. {directive}:: {n}", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- assembling


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def stage(src: Path) -> None:
    """Writes the site's sources into the empty folder ``src``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index, guides, _ = readme_pages(readme)

    markdown = [(ROOT / "BUILD.md", "BUILD.md")]
    docs = ROOT / "docs"
    skip = {docs / "site", docs / "_build"}
    doc_pages = []
    for path in sorted(docs.rglob("*")):
        if any(s == path or s in path.parents for s in skip) or not path.is_file():
            continue
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix == ".md":
            markdown.append((path, rel))
            doc_pages.append(path.relative_to(docs).as_posix())
        elif path.suffix.lower() in ASSET_SUFFIXES:
            _copy(path, src / rel)

    # Files the pages link to (README at the root, so its links are relative to ROOT).
    texts = [(ROOT, readme)] + [(p.parent, p.read_text(encoding="utf-8")) for p, _ in markdown]
    for base, text in texts:
        for target in _local_links(text):
            path = (base / target).resolve()
            if path.is_file() and ROOT in path.parents and path.suffix != ".md":
                _copy(path, src / path.relative_to(ROOT))
    for path, rel in markdown:
        _copy(path, src / rel)

    for stem, text in guides.items():
        (src / f"{stem}.md").write_text(text, encoding="utf-8")

    pages = api_pages()
    (src / "api").mkdir()
    for page in pages:
        (src / "api" / f"{page.stem}.rst").write_text(_rst_page(page), encoding="utf-8")

    ranked = sorted(
        doc_pages,
        key=lambda p: (MEASUREMENT_ORDER.index(p) if p in MEASUREMENT_ORDER else 99, p),
    )

    def toctree(caption: str, entries: list[str]) -> list[str]:
        return ["", "```{toctree}", f":caption: {caption}", ":maxdepth: 1", "", *entries, "```"]

    index += "\n".join(
        toctree("Guides", list(guides))
        + toctree("API reference", [f"api/{p.stem}" for p in pages])
        + toctree("Measurements", [f"docs/{p.removesuffix('.md')}" for p in ranked])
        + toctree("Project", ["BUILD"])
    )
    (src / "index.md").write_text(index + "\n", encoding="utf-8")


def imported_jopt() -> Path | None:
    """The folder Python imports ``jopt`` from (None: not importable)."""
    spec = importlib.util.find_spec("jopt")
    return Path(spec.origin).resolve().parent if spec is not None and spec.origin else None


def build(out: Path, *, strict: bool = True, keep_source: Path | None = None) -> Path:
    """Builds the HTML site into ``out``; raises ``CalledProcessError`` on a warning.

    The site documents the jopt that Python imports (an editable install of this
    checkout: ``pip install -e .``); another copy stops the build with ``SystemExit``.
    """
    found = imported_jopt()
    if found != ROOT / "jopt":
        raise SystemExit(
            f"docs build: Python imports jopt from {found}, not from this checkout "
            f"({ROOT / 'jopt'}); install it with: pip install -e {ROOT}"
        )
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="jopt-site-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        stage(src)
        if keep_source is not None:
            shutil.copytree(src, keep_source, dirs_exist_ok=True)
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(HERE)]
        cmd += ["-d", str(Path(tmp) / "doctrees"), "-j", "1", "-E"]
        if strict:
            cmd += ["-W", "--keep-going", "-n"]
        env = dict(os.environ)
        env.setdefault("KERAS_BACKEND", "jax")
        subprocess.run([*cmd, str(src), str(out)], check=True, env=env)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="HTML output folder")
    parser.add_argument("--no-strict", action="store_true", help="warnings are not errors")
    parser.add_argument("--keep-source", type=Path, help="also copy the generated sources here")
    args = parser.parse_args(argv)
    try:
        out = build(args.out, strict=not args.no_strict, keep_source=args.keep_source)
    except subprocess.CalledProcessError as e:
        print(f"docs build failed (exit {e.returncode}); see the warnings above", file=sys.stderr)
        return 1
    print(f"site built: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
