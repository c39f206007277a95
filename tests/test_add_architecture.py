"""Adding an architecture touches the nets package and the registry only.

A copy of the package gets a new net (a file in ``nets/`` and its line in ``nets/__init__``)
and one registry entry (``_architectures.py``); nothing else is edited. A fresh interpreter
then uses it as a user would: fit, predict, transform, a saved and loaded model, its default
search space, the command line's choices and a comparison against the single-task reference.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import sklearn_mtl

NEW_NET = '''
"""A shared bottom whose towers also read a skip connection from the input layer."""

from .blocks import MLP
from .shared_bottom import SharedBottomNet


class SkipBottomNet(SharedBottomNet):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.skip = MLP(self.input.out_features, (self.bottom.out_features,), 0.0)

    def representation(self, x_num, x_cat):
        h = self.input(x_num, x_cat)
        return self.bottom(h) + self.skip(h)

    def shared_parameters(self):
        return super().shared_parameters() + list(self.skip.parameters())
'''

USE_IT = '''
import numpy as np
from sklearn.model_selection import KFold
from sklearn_mtl import MultiTaskRecommender, compare_transfer, load
from sklearn_mtl.cli import MODEL_CHOICES
from sklearn_mtl.tuning import default_search_space

assert "skip" in MODEL_CHOICES, MODEL_CHOICES
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 4))
Y = np.column_stack([X[:, 0] + X[:, 1] > 0, X[:, 0] - X[:, 2] > 0]).astype(int)
model = MultiTaskRecommender("skip", hidden_units=(8, 4), max_epochs=3, random_state=0)
model.fit(X, Y)
assert type(model.net_.module_).__name__ == "SkipBottomNet"
assert model.predict(X).shape == (400, 2)
assert model.transform(X[:5]).shape == (5, 4)
assert list(model.get_feature_names_out())[:1] == ["shared_0"]
model.save("skip.zip")
np.testing.assert_allclose(load("skip.zip").predict_proba(X)[0], model.predict_proba(X)[0])
space = default_search_space(MultiTaskRecommender("skip"))
assert "gradient_method" in space and "n_experts" not in space, sorted(space)
report = compare_transfer({"skip": MultiTaskRecommender("skip", max_epochs=2, random_state=0)},
                          X, Y, cv=KFold(2, shuffle=True, random_state=0))
assert set(report.summary().index.get_level_values("model")) == {"skip"}
print("ok")
'''


def test_a_new_architecture_needs_a_net_and_a_registry_entry_only(tmp_path):
    package = tmp_path / "sklearn_mtl"
    shutil.copytree(Path(sklearn_mtl.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (package / "nets" / "skip.py").write_text(NEW_NET)
    nets_init = package / "nets" / "__init__.py"
    text = nets_init.read_text()
    text = text.replace("from .shared_bottom import SharedBottomNet\n",
                        "from .shared_bottom import SharedBottomNet\nfrom .skip import SkipBottomNet\n")
    text = text.replace("SharedBottomNet)}", "SharedBottomNet, SkipBottomNet)}")
    nets_init.write_text(text)
    registry = package / "_architectures.py"
    text = registry.read_text()
    assert '    Architecture("aitm",' in text
    text = text.replace('    Architecture("aitm",', '    Architecture("skip", "SkipBottomNet"),\n'
                        '    Architecture("aitm",', 1)
    registry.write_text(text)

    run = subprocess.run([sys.executable, "-c", textwrap.dedent(USE_IT)], cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin",
                              "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")
