"""The layers of docs/architecture.md hold: ``lint-imports`` keeps every contract in pyproject.toml,
and an import that points up breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (the test extra)")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root/src`` with ``root/pyproject.toml``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def test_every_contract_is_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "Contracts: 8 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("models/rbm.py", "import genlab.training.rbm", "Layers only point down"),
    ("lab/core.py", "import genlab.accel", "Only training reaches the fast paths"),
    ("figures/vae.py", "import genlab.figures.dcgan", "Model families are independent: figures"),
    ("data/images.py", "import genlab.data.sets", "No import cycle anywhere in genlab"),
])
def test_an_import_against_the_architecture_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "src" / "genlab", tmp_path / "src" / "genlab", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "src" / "genlab" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0 and f"{contract} BROKEN" in done.stdout, done.stdout[-3000:]
