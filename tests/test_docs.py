"""Every Python code block in the README and docs/ runs as written (blocks of a page share state)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)


# The pages whose examples fit for tens of seconds run with the slow tests; the light ones by default.
SLOW_PAGES = {"README.md", "docs/tuning.md", "docs/negative-transfer.md", "docs/getting-started.md"}


def _page(path: Path):
    name = str(path.relative_to(ROOT))
    return pytest.param(path, id=name, marks=[pytest.mark.slow] if name in SLOW_PAGES else [])


# A page whose code reads the real data (../shared/data) asks for its fixture, which skips the page
# with the missing path as the reason.
DATA_FIXTURES = {"fetch_census_income": "census_file", "fetch_movielens_100k": "movielens",
                 "fetch_womens_clothing_reviews": "clothing_file"}


@pytest.mark.parametrize("page", [_page(p) for p in PAGES if python_blocks(p)])
def test_page_code_blocks_run(page, tmp_path, monkeypatch, request):
    code = "\n".join(python_blocks(page))
    for name, fixture in DATA_FIXTURES.items():
        if name in code:
            request.getfixturevalue(fixture)
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # whatever a snippet writes lands in a scratch folder
    namespace = {"__name__": "__docs__"}
    for i, block in enumerate(python_blocks(page)):
        exec(compile(block, f"{page.name} block {i}", "exec"), namespace)
