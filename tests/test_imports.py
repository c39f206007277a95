"""The layers as docs/architecture.md draws them: what importing a subpackage loads."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["sklearn_mtl.transfer", "sklearn_mtl.tuning",
                                     "sklearn_mtl.metrics", "sklearn_mtl"])
def test_a_package_above_the_nets_imports_without_torch(package):
    code = (f"import sys, {package}; "
            "print(sorted(m for m in ('torch', 'skorch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import {package} loaded {out.stdout.strip()}"


def test_the_net_pruning_callback_loads_torch_only_when_asked_for():
    code = ("import sys; from sklearn_mtl.tuning import NetPruningCallback; "
            "print(NetPruningCallback.__name__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["NetPruningCallback", "True"]


def _imported(path, package_root):
    """``(importer, target)`` dotted names of every import of the package in one file, those
    inside functions too; a ``from m import name`` gives ``m.name``."""
    import ast

    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    here = parts[:-1] if parts[-1] == "__init__" else parts
    pkg = here if parts[-1] == "__init__" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "sklearn_mtl":
                base = node.module.split(".")
            else:
                continue
            for alias in node.names:
                yield here, base + [alias.name]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sklearn_mtl":
                    yield here, alias.name.split(".")


def test_no_module_reaches_into_another_packages_private_names():
    """A subpackage (or top-level module) uses another one through its public names only:
    ``from ..metrics import per_task_scores``, never ``from ..metrics._scores import ...`` or a
    private name; the low private modules at the top (``_checks``, ``_architectures``, ...) are
    the shared floor everyone may read."""
    from pathlib import Path

    import sklearn_mtl

    def unit(dotted):  # the subpackage or top-level module a dotted name is in
        return dotted[1] if len(dotted) > 1 else None

    root = Path(sklearn_mtl.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for here, target in _imported(path, root):
            if unit(here) == unit(target):
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in target[2:]):
                found.append(f"{'.'.join(here)} imports {'.'.join(target)}")
    assert found == []


def test_every_subpackage_map_names_each_of_its_modules():
    """Each subpackage's docstring is its module map: a module it does not name is one a reader
    of the file tree cannot place (the package root's map is docs/architecture.md)."""
    import ast
    from pathlib import Path

    import sklearn_mtl

    root = Path(sklearn_mtl.__file__).parent
    unnamed = {}
    for init in sorted(root.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        modules = [p.stem for p in init.parent.glob("*.py") if p.stem != "__init__"]
        missing = [m for m in modules if m not in doc]
        if missing:
            unnamed[init.parent.name] = missing
    assert unnamed == {}
