"""Run directories: what a training run leaves behind.

::

    RUN/config.json        family, full config, seed, data set and checksums, versions, device
    RUN/model.safetensors  tensors only (never pickles)
    RUN/log.jsonl          one JSON object per epoch
    RUN/eval.json          written by ``genlab eval``
    RUN/figures/           PNG figures

Every file is written atomically (:mod:`genlab.files`), so an interrupted run never
leaves a truncated file under its final name.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from genlab import data, migrations
from genlab.errors import ConfigError, GenlabError
from genlab.files import file_sha256, jsonable, load_tensors, save_tensors, write_bytes, write_json
from genlab.version import __version__

CONFIG = "config.json"
MODEL = "model.safetensors"
LOG = "log.jsonl"
EVAL = "eval.json"
FIGURES = "figures"


# ----------------------------------------------------------------------------- runs


def versions() -> dict[str, str]:
    return {"genlab": __version__, "torch": torch.__version__, "python": platform.python_version()}


@dataclass
class Run:
    """A run directory and its metadata (``config.json``)."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    # -- creation -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        family: str,
        config: dict[str, Any],
        data: dict[str, Any] | None = None,
        device: str = "cpu",
        overwrite: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Run:
        path = Path(path)
        if (path / CONFIG).exists() and not overwrite:
            raise ConfigError(f"--out {path}: already holds a run (config.json); choose another directory or pass --overwrite")
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path}: exists and is not a directory")
        if overwrite:
            for name in (MODEL, LOG, EVAL):
                (path / name).unlink(missing_ok=True)
        meta = {
            "family": family,
            "config": config,
            "data": data or {},
            "device": device,
            "versions": versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        run = cls(path, meta)
        (path / FIGURES).mkdir(parents=True, exist_ok=True)
        write_json(path / CONFIG, meta)
        return run

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Open an existing run directory (clear errors when it is not one)."""
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"RUN {path}: not a directory, expected a run directory made by 'genlab train'")
        config_path = path / CONFIG
        if not config_path.is_file():
            raise ConfigError(f"RUN {path}: no config.json, expected a run directory made by 'genlab train'")
        try:
            meta = json.loads(config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GenlabError(f"{config_path}: not valid JSON ({e})") from None
        if not isinstance(meta, dict) or "family" not in meta or "config" not in meta:
            raise GenlabError(f"{config_path}: expected an object with 'family' and 'config'")
        log = []
        if (path / LOG).is_file():
            log = [json.loads(line) for line in (path / LOG).read_text().splitlines() if line.strip()]
        return cls(path, meta, log)

    # -- contents -------------------------------------------------------------

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def config(self) -> dict[str, Any]:
        """The run's config as this version of genlab reads it (:func:`genlab.migrations.current_config`)."""
        return migrations.current_config(self.family, self.meta)

    def data_source(self, data_dir: str | Path | None = None) -> data.DataSource:
        """The data set the run was trained on (:func:`genlab.data.recorded_source`)."""
        return data.recorded_source(self.meta.get("data", {}), data_dir)

    @property
    def finished(self) -> bool:
        """Training has finished: the model exists and config.json records the training time (written last)."""
        return "train_time_s" in self.meta and (self.path / MODEL).is_file()

    @property
    def figures(self) -> Path:
        d = self.path / FIGURES
        d.mkdir(parents=True, exist_ok=True)
        return d

    def update_meta(self, **items: Any) -> None:
        self.meta.update(items)
        write_json(self.path / CONFIG, self.meta)

    def append_log(self, entry: dict[str, Any]) -> None:
        """Add one epoch's record (the whole file is rewritten atomically)."""
        self.log.append(jsonable(entry))
        text = "".join(json.dumps(e) + "\n" for e in self.log)
        write_bytes(self.path / LOG, text.encode())

    def update_last_log(self, **items: Any) -> None:
        """Add numbers (e.g. evaluation results) to the last epoch's record."""
        if not self.log:
            return
        last = self.log.pop()
        last.update(items)
        self.append_log(last)

    def save_model(self, tensors: dict[str, torch.Tensor]) -> Path:
        return save_tensors(self.path / MODEL, tensors, metadata={"family": self.family})

    def load_model(self, expected: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
        return load_tensors(self.path / MODEL, expected)

    def write_eval(self, results: dict[str, Any]) -> Path:
        return write_json(self.path / EVAL, results)

    def read_eval(self) -> dict[str, Any] | None:
        p = self.path / EVAL
        return json.loads(p.read_text()) if p.is_file() else None


def is_finished(path: str | Path) -> bool:
    """Whether ``path`` holds a run whose training has finished (see :attr:`Run.finished`)."""
    path = Path(path)
    try:
        meta = json.loads((path / CONFIG).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "train_time_s" in meta and (path / MODEL).is_file()


# ----------------------------------------------------------------------------- runs built on other runs


def model_sha256(run: Run) -> str:
    return file_sha256(run.path / MODEL)


def open_parent(path: str, family: str, flag: str, expected_sha256: str | None) -> tuple[Run, str]:
    """A finished run of ``family`` that a new run builds on, given by option ``flag``, and the sha256
    of its model.

    The checksum makes a run that depends on another self-describing: it is recorded
    in the config (so the lab's config hash changes when the parent does) and checked
    when given.
    """
    try:
        run = Run.open(path)
    except GenlabError as e:
        raise ConfigError(f"{flag}: {e}") from None
    if run.family != family:
        raise ConfigError(f"{flag} {path}: a {run.family} run, expected a {family} run")
    if not run.finished:
        raise ConfigError(f"{flag} {path}: the run has not finished training (no train_time_s in {CONFIG})")
    digest = model_sha256(run)
    if expected_sha256 is not None and expected_sha256 != digest:
        raise ConfigError(
            f"{flag} {path}: its model has changed (sha256 {digest[:12]}..., expected {expected_sha256[:12]}...)"
        )
    return run, digest


def check_same_data(parent: Run, dataset: str, data_dir: str | Path | None, flag: str) -> None:
    """The parent run must have been trained on ``dataset`` (the same file checksums)."""
    here = data.checksums(data.resolve(dataset, data_dir))
    there = parent.meta.get("data", {})
    if there.get("sha256") != here:
        raise ConfigError(
            f"{flag} {parent.path}: trained on {there.get('dataset', 'another data set')!r}, not on "
            f"--dataset {dataset!r} (pass the same --dataset)"
        )


def parent_record(run: Run, digest: str) -> dict[str, Any]:
    """What a run records of the run it builds on."""
    record = {"run": str(run.path.resolve()), "family": run.family, "sha256": digest, "config": run.config,
              "train_time_s": run.meta.get("train_time_s")}
    for key in ("layer1", "source"):
        if key in run.meta:
            record[key] = run.meta[key]
    return record
