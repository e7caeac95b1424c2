"""Every third-party package a workspace package imports is a dependency it declares itself.

A package that imports what it only gets through another's dependencies breaks the day that
other one drops it. The imports are read with `ast` from the source, so a new import fails here
until it is declared. Each package is its code, and each declares in its own pyproject.toml:

- `shared/shared` and each `services/<name>/<name>` (with its `migrations/`): `[project]
  dependencies` of its own pyproject.toml;
- their tests (`services/<name>/tests`, `shared/tests`, `shared/shared/testing.py`: the pytest plugin) and the
  root's code (`tests/`, `bench/`, `deploy/`): those, or the root's `dev` dependency group.

Which distribution provides an import is read from the installed distributions' file lists, so
`from opentelemetry import trace` is `opentelemetry-api` and `import jwt` is `PyJWT`. Every
declared requirement has a floor and an upper bound on its major version.
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
FIRST_PARTY = {"shared", "tests", "bench", *SERVICES}

# Declared for what they do at run time without being imported by name.
USED_WITHOUT_IMPORT = {
    "uvicorn": "serves every app (`make run` starts it as a command)",
    "python-multipart": "FastAPI reads the portal's forms with it",
    "jinja2": "the portal's templates, through starlette.templating",
    "pytest-asyncio": "the async tests and fixtures (a pytest plugin)",
    "pytest-timeout": "the suite's per-test timeout (a pytest plugin)",
    "import-linter": "`make lint` (a command)",
    "supervisor": "`make run` runs the processes under supervisord (a command)",
}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _module_owners() -> dict[str, str]:
    """Dotted module name → the distribution whose files hold it."""
    owners: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or ():
            parts = file.parts
            if not parts or ".." in parts or parts[0].endswith((".dist-info", ".data")):
                continue
            if file.name == "__init__.py":
                module = parts[:-1]
            elif file.suffix in (".py", ".so", ".pyd"):
                module = (*parts[:-1], file.name.split(".", 1)[0])
            else:
                continue
            owners.setdefault(".".join(module), _normalized(distribution.metadata["Name"]))
    return owners


def _distribution(module: str) -> str | None:
    """The distribution providing `module` (the longest known prefix of it), None if first party."""
    if module.split(".")[0] in FIRST_PARTY or module.split(".")[0] in sys.stdlib_module_names:
        return None
    owners, parts = _module_owners(), module.split(".")
    for end in range(len(parts), 0, -1):
        if (owner := owners.get(".".join(parts[:end]))) is not None:
            return owner
    raise AssertionError(f"no installed distribution provides {module!r}: is it declared and installed?")


def _local_modules(paths: Iterable[Path]) -> set[str]:
    """Modules imported by bare name from their own folder (bench's `from process_cpu import ...`)."""
    return {file.stem for path in paths for file in path.rglob("*.py")}


def _imported(paths: list[Path]) -> dict[str, set[str]]:
    """Distribution → the files importing it, over every .py file under `paths`."""
    local = _local_modules(paths)
    found: dict[str, set[str]] = {}
    files = [file for path in paths for file in ([path] if path.is_file() else path.rglob("*.py"))]
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in local:
                    continue
                if (distribution := _distribution(module)) is not None:
                    found.setdefault(distribution, set()).add(str(file.relative_to(ROOT)))
    return found


def _requirements(entries: list[str]) -> dict[str, Requirement]:
    return {_normalized(requirement.name): requirement for requirement in map(Requirement, entries)}


def _pyproject(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())


def _declared(path: Path) -> dict[str, Requirement]:
    return _requirements(_pyproject(path)["project"]["dependencies"])


def _dev_group() -> dict[str, Requirement]:
    return _requirements(_pyproject(ROOT)["dependency-groups"]["dev"])


def _workspace_member(name: str) -> bool:
    return name.startswith("licensing-")


# (package folder, its runtime code, its test code)
PACKAGES = {
    "shared": (ROOT / "shared", [ROOT / "shared/shared"], [ROOT / "shared/shared/testing.py", ROOT / "shared/tests"]),
    **{service: (ROOT / "services" / service,
                 [ROOT / "services" / service / service, ROOT / "services" / service / "migrations"],
                 [ROOT / "services" / service / "tests"]) for service in SERVICES},
}


def _undeclared(imported: dict[str, set[str]], declared: dict[str, Requirement]) -> dict[str, list[str]]:
    return {name: sorted(files) for name, files in imported.items() if name not in declared}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_code_of_each_package_imports_only_what_it_declares(package):
    folder, code, tests = PACKAGES[package]
    test_files = {str(path.relative_to(ROOT)) for path in tests}
    imported = {name: {file for file in files if not any(file.startswith(t) for t in test_files)}
                for name, files in _imported(code).items()}
    imported = {name: files for name, files in imported.items() if files}
    assert _undeclared(imported, _declared(folder)) == {}, f"declare these in {folder.name}/pyproject.toml"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_tests_of_each_package_import_only_what_it_or_the_dev_group_declares(package):
    folder, _, tests = PACKAGES[package]
    declared = {**_declared(folder), **_dev_group()}
    assert _undeclared(_imported([path for path in tests if path.exists()]), declared) == {}


def test_the_root_tests_bench_and_deploy_import_only_what_the_dev_group_or_a_package_declares():
    declared = {**_dev_group(), **{name: requirement for folder, _, _ in PACKAGES.values()
                                   for name, requirement in _declared(folder).items()}}
    assert _undeclared(_imported([ROOT / "tests", ROOT / "bench", ROOT / "deploy"]), declared) == {}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_declares_nothing_it_does_not_use(package):
    folder, code, _ = PACKAGES[package]
    imported = _imported(code)
    unused = {name for name in _declared(folder)
              if not _workspace_member(name) and name not in imported and name not in USED_WITHOUT_IMPORT}
    assert unused == set()


def _all_requirements() -> list[tuple[str, Requirement]]:
    found = [(f"{folder.relative_to(ROOT)}/pyproject.toml", requirement)
             for folder, _, _ in PACKAGES.values() for requirement in _declared(folder).values()]
    return found + [("pyproject.toml (dev)", requirement) for requirement in _dev_group().values()]


@pytest.mark.parametrize(("where", "requirement"), _all_requirements(), ids=lambda value: str(value))
def test_every_requirement_has_a_floor_and_a_major_version_bound(where, requirement):
    if _workspace_member(requirement.name):
        return
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    ceilings = [Version(spec.version) for spec in requirement.specifier if spec.operator == "<"]
    assert floors and ceilings, f"{where}: {requirement} needs >= and <"
    # The bound keeps out the next major release after the one locked (for 0.x, 1.0), not later.
    locked = Version(importlib.metadata.version(requirement.name))
    next_major = Version(f"{locked.major + 1}")
    assert max(floors) < min(ceilings) <= next_major, f"{where}: {requirement}: the bound should be at most <{next_major}"


@pytest.mark.parametrize(("where", "requirement"), _all_requirements(), ids=lambda value: str(value))
def test_the_installed_version_meets_every_declared_requirement(where, requirement):
    if _workspace_member(requirement.name):
        return
    installed = importlib.metadata.version(requirement.name)
    assert requirement.specifier.contains(installed, prereleases=True), f"{where}: {requirement}, installed {installed}"
