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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open

from genlab import data, migrations
from genlab.data import memory
from genlab.errors import ConfigError, GenlabError
from genlab.files import (
    file_sha256,
    jsonable,
    load_tensors,
    remove_stray_temporaries,
    save_tensors,
    write_bytes,
    write_json,
)
from genlab.models.saved import CONFIG, MODEL, versions

LOG = "log.jsonl"
EVAL = "eval.json"
FIGURES = "figures"
CHECKPOINT = "checkpoint.safetensors"  # while training: what it needs to continue (removed when it finishes)

C = TypeVar("C")


# ----------------------------------------------------------------------------- runs


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
        data: dict[str, Any],
        device: str = "cpu",
        overwrite: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Run:
        if not str(path).strip():
            raise ConfigError("--out: expected a directory name, got an empty one")
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path}: exists and is not a directory")
        remove_strays(path)
        if (path / CONFIG).exists() and not overwrite:
            raise ConfigError(f"--out {path}: already holds a run (config.json); choose another directory or pass --overwrite")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise ConfigError(
                f"--out {path}: not empty and not a genlab run (no config.json); choose a new or empty directory, "
                "or pass --overwrite to write genlab's files into it"
            )
        if overwrite:
            for name in (MODEL, LOG, EVAL, CHECKPOINT):
                (path / name).unlink(missing_ok=True)
        meta = {
            "family": family,
            "config": config,
            "data": data,
            "device": device,
            "versions": versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        check_meta(path / CONFIG, meta)
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
        remove_strays(path)
        config_path = path / CONFIG
        if not config_path.exists():
            raise ConfigError(f"RUN {path}: no config.json, expected a run directory made by 'genlab train'")
        for name in (CONFIG, LOG, MODEL, EVAL, CHECKPOINT):
            if (path / name).exists() and not (path / name).is_file():
                raise GenlabError(f"{path / name}: not a regular file, expected the run's {name}")
        meta = read_json(config_path)
        check_meta(config_path, meta)
        return cls(path, meta, read_log(path / LOG))

    # -- contents -------------------------------------------------------------

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def config(self) -> dict[str, Any]:
        """The run's config as this version of genlab reads it (:func:`genlab.migrations.current_config`)."""
        return migrations.current_config(self.family, self.meta)

    def config_as(self, config_class: type[C], config: dict[str, Any] | None = None, where: str = "config") -> C:
        """The run's config (or another one it records, e.g. its parent's) as a ``config_class``; a value
        of the wrong type or name is a one-line error naming config.json."""
        try:
            return config_class.from_dict(self.config if config is None else config)
        except (ConfigError, TypeError) as e:
            raise GenlabError(f"{self.path / CONFIG}: {where}: {e}") from None

    def data_source(self, data_dir: str | Path | None = None) -> data.DataSource:
        """The data set the run was trained on (:func:`genlab.data.recorded_source`), to measure the run on:
        images given in memory are refused when they are no longer in the cache, or were given without test
        images or labels, naming what is missing."""
        if data_dir is None:
            memory.check_kept(self.meta.get("data", {}))
        source = data.recorded_source(self.meta.get("data", {}), data_dir)
        memory.check_measurable(source)
        return source

    @property
    def finished(self) -> bool:
        """Training has finished: the model exists and config.json records the training time (written last),
        or the model was saved by ``model.save``."""
        return ("train_time_s" in self.meta or "saved" in self.meta) and (self.path / MODEL).is_file()

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

    def save_checkpoint(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
        """Write the training state (``tensors``) and where training stands (``meta``) as one file."""
        return save_tensors(self.path / CHECKPOINT, tensors, metadata={"checkpoint": json.dumps(meta)})

    def load_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The last checkpoint's tensors and meta, or None when there is none."""
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        tensors = load_tensors(path)
        try:
            with safe_open(path, "pt") as f:
                meta = json.loads((f.metadata() or {})["checkpoint"])
        except (KeyError, ValueError, SafetensorError) as e:
            raise GenlabError(f"{path}: not a checkpoint of genlab ({e})") from None
        if not (isinstance(meta, dict) and isinstance(meta.get("epoch"), int) and isinstance(meta.get("log_length"), int)):
            raise GenlabError(f"{path}: expected a checkpoint's epoch and log length in its metadata")
        return tensors, meta

    def remove_checkpoint(self) -> None:
        (self.path / CHECKPOINT).unlink(missing_ok=True)

    def truncate_log(self, length: int) -> None:
        """Keep the first ``length`` epochs' records (those a checkpoint was written after)."""
        self.log = self.log[:length]
        write_bytes(self.path / LOG, "".join(json.dumps(e) + "\n" for e in self.log).encode())

    def write_eval(self, results: dict[str, Any]) -> Path:
        return write_json(self.path / EVAL, results)

    def read_eval(self) -> dict[str, Any] | None:
        p = self.path / EVAL
        return read_json(p) if p.is_file() else None


# ----------------------------------------------------------------------------- the run format, checked in one place

JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number", bool: "true or false"}

# config.json's keys: the type of each, and whether every run has it
META = {"family": (str, True), "config": (dict, True), "data": (dict, True), "device": (str, False),
        "versions": (dict, False), "created": (str, False), "train_time_s": (float, False), "stopped": (str, False),
        "layer1": (dict, False), "source": (dict, False), "saved": (dict, False)}
# its "data" section: what the run was trained on
DATA = {"image_shape": (list, True), "dataset": (str, False), "directory": (str, False), "sha256": (dict, False),
        "train_images": (int, False), "test_images": (int, False)}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GenlabError(f"{path}: not valid JSON ({e})") from None


def json_type(value: Any) -> str:
    return "null" if value is None else JSON_TYPES.get(type(value), type(value).__name__)


def check_keys(path: Path, section: str, obj: dict[str, Any], schema: dict[str, tuple[type, bool]]) -> None:
    for key, (kind, required) in schema.items():
        if key not in obj:
            if required:
                raise GenlabError(f"{path}: no {section}{key}, expected {JSON_TYPES[kind]}")
            continue
        value = obj[key]
        fits = isinstance(value, int | float) if kind is float else isinstance(value, kind)
        if not fits or (kind is not bool and isinstance(value, bool)):
            raise GenlabError(f"{path}: {section}{key} is {json_type(value)}, expected {JSON_TYPES[kind]}")


def check_meta(path: Path, meta: Any) -> None:
    """config.json of a run: the keys of :data:`META` and :data:`DATA` with their types, and an image shape
    of two positive integers. Every run genlab reads passes here (:meth:`Run.open`)."""
    if not isinstance(meta, dict):
        raise GenlabError(f"{path}: {json_type(meta)}, expected an object with 'family', 'config' and 'data'")
    check_keys(path, "", meta, META)
    check_keys(path, "data.", meta["data"], DATA)
    shape = meta["data"]["image_shape"]
    if len(shape) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise GenlabError(f"{path}: data.image_shape is {json.dumps(shape)}, expected [height, width] (positive integers)")


def read_log(path: Path) -> list[dict[str, Any]]:
    """log.jsonl: one JSON object per line (none when the file does not exist yet)."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as e:
        raise GenlabError(f"{path}: not text ({e})") from None
    log = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise GenlabError(f"{path}: line {number} is not valid JSON ({e})") from None
        if not isinstance(entry, dict):
            raise GenlabError(f"{path}: line {number} is {json_type(entry)}, expected an object (one epoch's record)")
        log.append(entry)
    return log


def remove_strays(path: Path) -> None:
    """Delete what writers killed mid-write left in a run directory (see :func:`genlab.files.remove_stray_temporaries`)."""
    for directory in (path, path / FIGURES):
        remove_stray_temporaries(directory)


def is_finished(path: str | Path) -> bool:
    """Whether ``path`` holds a run whose training has finished (see :attr:`Run.finished`)."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        return False
    try:
        meta = json.loads((path / CONFIG).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and ("train_time_s" in meta or "saved" in meta) and (path / MODEL).is_file()


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
    except GenlabError as e:  # not a run: a bad option (exit 2); a damaged run: a bad file (exit 1)
        raise type(e)(f"{flag}: {e}") from None
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
