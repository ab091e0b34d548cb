"""The API reference (mkdocs + mkdocstrings) covers every public name, checked without mkdocs.

A ``::: module.path`` directive renders the module's ``__all__`` (with the site-wide
``show_if_no_docstring: true``, also names without a docstring of their own) unless its
options restrict ``members`` or ``filters``. So every method module of ``jaxopt_lab.methods``,
and ``core``/``sweeps``, needs an unrestricted directive on a page that ``mkdocs.yml`` lists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from jaxopt_lab.catalog import _MODULES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REQUIRED = sorted(set(_MODULES.values()) | {"jaxopt_lab.core", "jaxopt_lab.sweeps"})
RESTRICTING = ("members:", "filters:", "inherited_members:")


def module_all(module: str) -> list[str]:
    """``__all__`` of a module of this repository, read from its source (no import)."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]
    raise AssertionError(f"{module} has no __all__")


def directives(text: str) -> dict[str, list[str]]:
    """``{module: option lines}`` of the ``::: module`` directives of one Markdown page."""
    found, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^:::\s+([\w.]+)\s*$", line)
        if match:
            current = match.group(1)
            found[current] = []
        elif current is not None and line.startswith("    ") and line.strip():
            found[current].append(line.strip())
        else:
            current = None
    return found


def coverage_problems(pages: dict[str, str], nav_pages: set[str], modules) -> list[str]:
    """What keeps a module's ``__all__`` out of the built reference (empty: nothing)."""
    where = {}
    for page, text in pages.items():
        for module, options in directives(text).items():
            where.setdefault(module, []).append((page, options))
    problems = []
    for module in modules:
        entries = where.get(module, [])
        listed = [(p, o) for p, o in entries if p in nav_pages]
        if not listed:
            problems.append(f"{module}: no '::: {module}' on a page in mkdocs.yml's nav")
        elif all(any(o.startswith(RESTRICTING) for o in opts) for _, opts in listed):
            problems.append(f"{module}: its directive restricts members: {listed}")
    return problems


def nav_pages(mkdocs_yml: str) -> set[str]:
    """The Markdown pages that ``mkdocs.yml``'s ``nav`` lists (read as text: no YAML parser)."""
    nav = mkdocs_yml.split("\nnav:\n", 1)[1]
    return set(re.findall(r"^\s+- (?:[^:\n]+: )?([\w/.-]+\.md)\s*$", nav, flags=re.M))


def load_site():
    config = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(DOCS).as_posix(): p.read_text() for p in DOCS.rglob("*.md")}
    return config, pages


def test_every_public_name_of_methods_core_and_sweeps_is_in_the_reference():
    config, pages = load_site()
    assert coverage_problems(pages, nav_pages(config), REQUIRED) == []
    for module in REQUIRED:
        assert module_all(module), module


def test_site_options_render_every_name_and_nav_pages_exist():
    config, _ = load_site()
    options = config.split("\n          options:\n", 1)[1].split("\n\nnav:")[0]
    assert re.search(r"^\s+show_if_no_docstring: true$", options, flags=re.M)
    assert not re.search(r"^\s+(members|filters|inherited_members):", options, flags=re.M)
    assert len(nav_pages(config)) > 20
    for page in nav_pages(config):
        assert (DOCS / page).is_file(), f"mkdocs.yml's nav lists a missing page {page}"


def test_the_check_fails_for_a_missing_or_filtered_module():
    nav = {"a.md", "b.md"}
    pages = {"a.md": "# A\n\n::: pkg.one\n",
             "b.md": "::: pkg.two\n    options:\n      members: [Config]\n",
             "c.md": "::: pkg.three\n"}
    problems = coverage_problems(pages, nav, ["pkg.one", "pkg.two", "pkg.three", "pkg.four"])
    assert [p.split(":")[0] for p in problems] == ["pkg.two", "pkg.three", "pkg.four"]
    assert module_all("jaxopt_lab.basin_hopping.bhs")[:6] == [
        "Config", "Params", "State", "Info", "params", "make"]
