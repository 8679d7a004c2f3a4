"""docs/tutorial.md runs as written: its Python blocks, in order, in one namespace, in a fresh directory."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"


def python_blocks(text: str) -> list[str]:
    """The code of each fenced ```python block, in order."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_the_tutorial_runs(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_DIR", str(mnist_dir))
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(TUTORIAL.read_text())
    assert len(blocks) >= 8
    namespace: dict = {"__name__": "tutorial"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{TUTORIAL.name}, block {number}", "exec"), namespace)  # noqa: S102
    runs = tmp_path / "runs"
    assert (runs / "rbm" / "eval.json").is_file() and (tmp_path / "rbm-samples.png").is_file()
    assert {path.name for path in runs.iterdir()} == {"rbm", "memory", "rbm-sharper", "dbn", "vae"}  # none of the failed call
    assert (runs / "rbm-sharper" / "model.safetensors").is_file()


def test_the_readme_links_the_tutorial():
    assert "(docs/tutorial.md)" in (ROOT / "README.md").read_text()
