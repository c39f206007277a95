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
