"""Every Python code block in the README and docs/ runs as written (blocks of a page share state)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)


# The pages whose examples fit for tens of seconds run with the slow tests; the light ones by default.
SLOW_PAGES = {"README.md", "docs/tuning.md", "docs/negative-transfer.md", "docs/getting-started.md",
              "docs/transfer-learning.md", "docs/user-guide.md"}


def _page(path: Path):
    name = str(path.relative_to(ROOT))
    return pytest.param(path, id=name, marks=[pytest.mark.slow] if name in SLOW_PAGES else [])


# A page whose code reads the real data (../shared/data) asks for its fixture, which skips the page
# with the missing path as the reason, and its fetchers read the folder the fixture found: a page
# never downloads (a run offline with SKLEARN_MTL_DATA unset passes the same).
DATA_FIXTURES = {"fetch_census_income": "census_file", "fetch_movielens_100k": "movielens",
                 "fetch_womens_clothing_reviews": "clothing_file"}


@pytest.mark.parametrize("page", [_page(p) for p in PAGES if python_blocks(p)])
def test_page_code_blocks_run(page, tmp_path, monkeypatch, request):
    code = "\n".join(python_blocks(page))
    for name, fixture in DATA_FIXTURES.items():
        if name in code:
            request.getfixturevalue(fixture)
            monkeypatch.setenv("SKLEARN_MTL_DATA", str(request.getfixturevalue("data_home")))
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # whatever a snippet writes lands in a scratch folder
    namespace = {"__name__": "__docs__"}
    for i, block in enumerate(python_blocks(page)):
        exec(compile(block, f"{page.name} block {i}", "exec"), namespace)


def readme_commands() -> list[str]:
    """The README's commands for a clone's root: code lines and spans that start with `.venv/bin/`,
    or with `SKLEARN_MTL_DATA=...` in front of it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
             for line in block.splitlines()]
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
    command = re.compile(r"^(SKLEARN_MTL_DATA=\S+ )?\.venv/bin/\S+ ")
    return list(dict.fromkeys(c.split("  #")[0].strip() for c in [*lines, *spans]
                              if command.match(c.strip())))


@pytest.mark.slow  # a small comparison through the CLI: tens of seconds
def test_readme_commands_run_as_written(tmp_path):
    """Each typed in the clone's root with SKLEARN_MTL_DATA unset, as a newcomer does; a comparison
    gets options appended that make it small (the last of an option wins), pytest only collects."""
    commands = readme_commands()
    assert any("sklearn-mtl compare --data movielens" in c for c in commands), commands
    assert any("-m pytest -m slow" in c for c in commands), commands
    if not (ROOT / ".venv" / "bin").is_dir() or not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("the README's commands need the clone's .venv and ../shared/data beside it")
    env = {k: v for k, v in os.environ.items() if k != "SKLEARN_MTL_DATA"}
    for command in commands:
        if " compare " in command:
            command += (f" --n-rows 300 --cv 2 --repeats 1 --max-epochs 1 --models hard "
                        f"--progress none --out {tmp_path / 'out'}")
        elif " pytest " in command:
            command += " --collect-only -q -p no:cacheprovider"
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
