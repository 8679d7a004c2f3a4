"""Files written whole or not at all, and the formats genlab writes: JSON and safetensors.

Every file is written to a temporary file in the same directory and then renamed, so an
interrupted write never leaves a truncated file under its final name. A file gets the mode
``open()`` would give it: 0o666 less the umask (0o644 under the usual 0o022).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genlab.errors import GenlabError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place.

    An error of the file system (no permission, no space left, a directory in the way)
    names ``path``, not its temporary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")  # see TEMPORARY
    try:
        tmp.touch(mode=0o666, exist_ok=False)  # the mode open() gives: the kernel takes the umask off
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno is not None and e.filename in (None, str(tmp)):
            raise OSError(e.errno, e.strerror, str(path)) from e  # OSError picks the subclass of the errno
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


# The temporary files of atomic_write: .STEM.PID.RANDOM.tmpSUFFIX, RANDOM 8 hex digits
TEMPORARY = re.compile(r"^\..*\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")


def remove_stray_temporaries(directory: str | Path) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left in ``directory`` (those of processes
    no longer running; a live writer's file is left alone), and return them."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stray = []
    for path in directory.iterdir():
        match = TEMPORARY.match(path.name)
        if match and path.is_file() and not process_exists(int(match["pid"])):
            path.unlink(missing_ok=True)
            stray.append(path)
    return stray


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine (and may still be writing)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none with this id, or no valid id at all
        return False
    except PermissionError:  # another user's process
        return True
    return True


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_bytes(path, (json.dumps(jsonable(obj), indent=2) + "\n").encode())


def jsonable(obj: Any) -> Any:
    """Tensors and numpy scalars to plain numbers; NaN/inf to null (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return jsonable(obj.tolist())
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


def expected_dtype(name: str) -> torch.dtype:
    """The dtype genlab writes a model's tensor in: float32, but int64 for batch norm's counter."""
    return torch.int64 if name.endswith("num_batches_tracked") else torch.float32


def load_tensors(path: str | Path, expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors file; with ``expected``, it holds exactly the named tensors, each with that
    shape and :func:`expected_dtype`. Floating-point tensors must hold finite values only."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise GenlabError(f"{path}: not a regular file, expected a safetensors file")
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
        if tensors[name].dtype != expected_dtype(name):
            raise GenlabError(f"{path}: tensor {name!r} is {tensors[name].dtype}, expected {expected_dtype(name)}")
    extra = sorted(set(tensors) - set(expected or tensors))
    if extra:
        raise GenlabError(f"{path}: unexpected tensor(s) {', '.join(map(repr, extra))} for this config")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise GenlabError(f"{path}: tensor {name!r} holds NaN or infinite values, expected a trained model's numbers")
    return tensors
