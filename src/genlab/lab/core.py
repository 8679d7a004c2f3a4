"""The machinery every lab task shares.

* :class:`Lab` trains and evaluates runs under ``OUT/runs/``, each keyed by a hash of
  its family and config, so re-running a lab (after an interruption, or with one
  setting changed) only trains what is missing, and tasks share runs (the DBN lab
  re-uses the RBM lab's reference run).
* :class:`TaskReport` collects what a task found — sections with the exact configs,
  figures, tables of numbers and observations — and writes ``OUT/TASK/report.md``
  and ``OUT/TASK/results.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab.devices import describe, resolve_device
from genlab.runs import CONFIG, MODEL, Run, write_bytes, write_json
from genlab.train.common import TrainConfig


def config_key(family: str, config: TrainConfig) -> str:
    """A short, stable hash of a family and its full config."""
    text = json.dumps({"family": family, "config": config.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Lab:
    """Trains and evaluates runs for the lab, re-using every finished one."""

    def __init__(
        self,
        out: str | Path,
        preset: str,
        device: str | torch.device = "auto",
        data_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        self.out = Path(out)
        self.preset = preset
        self.device = resolve_device(device)
        self.data_dir = data_dir
        self.progress = progress
        self.trained = self.reused = 0
        self.out.mkdir(parents=True, exist_ok=True)

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def say(self, message: str) -> None:
        """One line of progress on stderr (the overall progress display)."""
        if self.progress:
            print(f"[lab {self.preset}] {message}", file=sys.stderr, flush=True)

    def run_path(self, family: str, config: TrainConfig) -> Path:
        return self.out / "runs" / f"{family}-{config_key(family, config)}"

    def train(self, family: str, config: TrainConfig, label: str = "") -> Run:
        """The finished run of ``config``: re-used when present, else trained now."""
        from genlab.families import FAMILIES

        path = self.run_path(family, config)
        if is_finished(path):
            self.reused += 1
            self.say(f"re-using {family} run {path.name} {label}")
            return Run.open(path)
        self.say(f"training {family} {label} -> {path}")
        run = FAMILIES[family].train(
            config, path, device=self.device, data_dir=self.data_dir, progress=self.progress, overwrite=True
        )
        self.trained += 1
        return run

    def evaluate(self, run: Run, eval_config: Any) -> dict[str, Any]:
        """``eval.json`` of the run for this eval config: re-used when it matches, else computed."""
        from genlab.evaluate.run import evaluate

        previous = run.read_eval()
        if previous is not None and previous.get("eval_config") == eval_config.to_dict():
            return previous
        self.say(f"evaluating {run.path.name}")
        return evaluate(run, eval_config, self.device, self.data_dir, self.progress)

    def task_dir(self, task: str) -> Path:
        d = self.out / task
        (d / "figures").mkdir(parents=True, exist_ok=True)
        return d


def is_finished(path: Path) -> bool:
    """A run is finished when its model exists and its config records the training time."""
    try:
        meta = json.loads((path / CONFIG).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (path / MODEL).is_file() and "train_time_s" in meta


# ----------------------------------------------------------------------------- reports


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}


def fmt(value: Any) -> str:
    """Numbers as a reader wants them in a table."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000 or value == int(value) and abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.2f}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Section:
    """One experiment: what was run, what it drew, what it measured, what that shows."""

    title: str
    text: str = ""
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)


@dataclass
class TaskReport:
    task: str
    title: str
    preset: str
    device: str
    sections: list[Section] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def markdown(self, base: Path) -> str:
        """The report as Markdown, with figure links relative to ``base``."""
        out = [f"# {self.title}", "", f"Preset `{self.preset}`, device {self.device}.", ""]
        for s in self.sections:
            out += [f"## {s.title}", ""]
            if s.text:
                out += [s.text, ""]
            for name, cfg in s.configs.items():
                out += [f"<details><summary>config: {name}</summary>", "", "```json", json.dumps(cfg, indent=1), "```", "</details>", ""]
            for f in s.figures:
                out += [f"![{f.caption}]({_rel(f.path, base)})", "", f"*{f.caption}*", ""]
            for t in s.tables:
                out += [t.markdown(), ""]
            out += [f"- {o}" for o in s.observations]
            out.append("")
        return "\n".join(out)

    def to_dict(self, base: Path) -> dict[str, Any]:
        return {
            "task": self.task,
            "title": self.title,
            "preset": self.preset,
            "device": self.device,
            "time_s": round(time.perf_counter() - self.started, 1),
            "sections": [
                {
                    "title": s.title,
                    "text": s.text,
                    "configs": s.configs,
                    "figures": [{"path": _rel(f.path, base), "caption": f.caption} for f in s.figures],
                    "tables": [t.to_dict() for t in s.tables],
                    "observations": s.observations,
                }
                for s in self.sections
            ],
        }

    def write(self, directory: Path) -> Path:
        """Write ``report.md`` and ``results.json`` into the task's directory."""
        write_bytes(directory / "report.md", self.markdown(directory).encode())
        write_json(directory / "results.json", self.to_dict(directory))
        return directory


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(Path(path).resolve(), base.resolve())
