"""The library's layout rules, checked on its source: module size, private imports, the
public namespaces, and a library that knows nothing of its tests or experiments."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jaxopt_lab"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400
#: Modules allowed past MAX_LINES, each with its reason (none today).
LONG_MODULES: dict[str, str] = {}
#: The public namespace of a subpackage must fit on one screen.
MAX_PUBLIC_NAMES = 40


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _subpackage(module_name: str) -> str:
    """``jaxopt_lab.dgs.estimator`` -> ``jaxopt_lab.dgs``; top-level modules -> themselves."""
    parts = module_name.split(".")
    return ".".join(parts[:2])


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """``(module, name)`` for every ``from module import name`` in ``path``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_module_is_at_most_400_lines(path):
    lines = len(path.read_text().splitlines())
    rel = _relative(path)
    assert lines <= MAX_LINES or rel in LONG_MODULES, (
        f"{rel} has {lines} lines (> {MAX_LINES}): split it, or state why in LONG_MODULES")


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_no_private_name_imported_across_subpackages(path):
    """Private names stay inside their subpackage; ``jaxopt_lab._checks`` is the one
    validation helper that every entry point uses."""
    here = _subpackage(_module_name(path))
    for module, name in _imports(path):
        if not module.startswith("jaxopt_lab"):
            continue
        private = (name or "").startswith("_") or any(
            part.startswith("_") for part in module.split(".")[1:])
        shared_helper = "jaxopt_lab._checks" in (module, f"{module}.{name}")
        if private and _subpackage(module) != here and not shared_helper:
            pytest.fail(f"{_relative(path)} imports private {module}.{name} from another "
                        "subpackage")


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_library_never_imports_tests_or_experiments(path):
    for module, _ in _imports(path):
        assert module.split(".")[0] not in ("tests", "experiments"), (
            f"{_relative(path)} imports {module}")


SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_namespace_fits_on_one_screen(name):
    module = importlib.import_module(f"jaxopt_lab.{name}")
    public = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
    assert len(public) <= MAX_PUBLIC_NAMES, (
        f"jaxopt_lab.{name} exports {len(public)} names: {sorted(public)}")
    for attr in public:
        assert hasattr(module, attr), f"jaxopt_lab.{name}.__all__ names missing {attr!r}"
