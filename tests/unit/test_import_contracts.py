"""`make lint` fails on an import that points the wrong way (import-linter contracts in pyproject.toml).

Runs `lint-imports` on a copy of the code: as it is (every contract kept), then with one upward import
per contract injected (each contract reported broken).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is a dev dependency")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def _inject(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # injected by the test\n")


def test_contracts_fail_on_upward_imports(tmp_path: Path) -> None:
    for package in ("app", "sandbox"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)

    clean = _lint(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 broken" in clean.stdout

    _inject(tmp_path / "app/db/models/integration.py", "import app.services.lifecycle")  # models → services
    _inject(tmp_path / "app/classy/pages.py", "import app.settings")  # the client reads our settings
    _inject(tmp_path / "sandbox/timefmt.py", "import app.errors")  # the sandbox leans on the app
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "3 broken" in broken.stdout, broken.stdout
    assert "app.db.models.integration -> app.services.lifecycle" in broken.stdout
    assert "app.classy.pages -> app.settings" in broken.stdout
    assert "sandbox.timefmt -> app.errors" in broken.stdout
