"""Run directories: what a training run leaves behind.

::

    RUN/config.json        family, full config, seed, data set and checksums, versions, device
    RUN/model.safetensors  tensors only (never pickles)
    RUN/log.jsonl          one JSON object per epoch
    RUN/eval.json          written by ``genlab eval``
    RUN/figures/           PNG figures

Every file is written to a temporary file in the same directory and then renamed,
so an interrupted run never leaves a truncated file under its final name.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import genlab
from genlab.errors import ConfigError, GenlabError

CONFIG = "config.json"
MODEL = "model.safetensors"
LOG = "log.jsonl"
EVAL = "eval.json"
FIGURES = "figures"


# ----------------------------------------------------------------------------- atomic writes


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_bytes(path, (json.dumps(_jsonable(obj), indent=2) + "\n").encode())


def _jsonable(obj: Any) -> Any:
    """Tensors and numpy scalars to plain numbers; NaN/inf to null (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    data = st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    return write_bytes(path, data)


def load_tensors(path: str | Path, expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors file; with ``expected``, every named tensor must exist with that shape."""
    path = Path(path)
    try:
        tensors = st_load(path.read_bytes())
    except FileNotFoundError:
        raise GenlabError(f"{path}: missing, expected the model's tensors") from None
    except (SafetensorError, ValueError, OSError) as e:
        raise GenlabError(f"{path}: not a valid safetensors file ({e})") from None
    for name, shape in (expected or {}).items():
        if name not in tensors:
            raise GenlabError(f"{path}: tensor {name!r} is missing, expected shape {list(shape)}")
        if tuple(tensors[name].shape) != tuple(shape):
            raise GenlabError(
                f"{path}: tensor {name!r} has shape {list(tensors[name].shape)}, expected {list(shape)} for this config"
            )
    return tensors


# ----------------------------------------------------------------------------- runs


def versions() -> dict[str, str]:
    return {"genlab": genlab.__version__, "torch": torch.__version__, "python": platform.python_version()}


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
        return self.meta["config"]

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
        self.log.append(_jsonable(entry))
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
