"""A model written as a run directory: what ``model.save(path)`` does for every model of genlab.

A run directory is made by its two files, named here, at the lowest layer that writes them
(:mod:`genlab.runs` reads and writes runs with the same names)::

    PATH/config.json        the family, its options that the model's layers fix, the data set, ``saved``
    PATH/model.safetensors  the model's tensors

so that ``genlab sample``, ``genlab eval`` and ``genlab.load`` read a saved model as any run. A model
that ``genlab.load`` gave keeps the record of its run (:attr:`Saveable.record`): the copy keeps its
options, data set and training time. A model made in Python records its layer sizes, an image shape
and no data set (``genlab eval`` then measures it on ``--dataset``'s default, MNIST).
"""

from __future__ import annotations

import copy
import math
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import torch

from genlab.errors import ConfigError
from genlab.files import save_tensors, write_json
from genlab.version import __version__

CONFIG = "config.json"
MODEL = "model.safetensors"


def versions() -> dict[str, str]:
    """The versions a run directory records."""
    return {"genlab": __version__, "torch": torch.__version__, "python": platform.python_version()}


class Saveable:
    """What lets a model save itself as a run directory: its family's name, the options its layers fix,
    and the record of the run it was loaded from."""

    family: ClassVar[str]  # the family of genlab.families this model is trained by
    record: dict[str, Any] | None = None  # config.json of the run genlab.load read it from, with "run": its path
    tensors: Any  # each model's tensors(), by name as model.safetensors holds them

    def saved_config(self) -> dict[str, Any]:
        """The family's options that the model's layers fix (e.g. an RBM's ``hidden``)."""
        raise NotImplementedError

    def saved_meta(self) -> dict[str, Any]:
        """More of config.json that loading the model needs (a fine-tuned DBN's ``source``); none by default."""
        return {}

    def save(self, path: str | Path, image_shape: tuple[int, int] | None = None) -> Path:
        """Write the model as a run directory that genlab's commands read (``genlab sample PATH``,
        ``genlab eval PATH``, ``genlab.load(PATH)``).

        Args:
            path: A new or empty directory.
            image_shape: (height, width) of the images; by default the shape of the run the model was
                loaded from, else the square of its visible units (28x28 for 784).

        Returns:
            The directory.

        Raises:
            ConfigError: ``path`` is not a new or empty directory, or no image shape is known.
        """
        path = Path(path)
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            raise ConfigError(f"save: {path} exists and is not an empty directory; choose a new one")
        meta = run_meta(self, image_shape)
        path.mkdir(parents=True, exist_ok=True)
        save_tensors(path / MODEL, self.tensors(), metadata={"family": self.family})
        write_json(path / CONFIG, meta)  # last: a directory with config.json is a run
        return path


def run_meta(model: Saveable, image_shape: tuple[int, int] | None) -> dict[str, Any]:
    """config.json of a saved model: the record of its run (when it has one of its family) with the options
    its layers fix, the image shape, and ``saved`` (when, from which run)."""
    record = copy.deepcopy(model.record) if model.record else {}
    loaded_from = record.pop("run", None)
    if record.get("family") != model.family:  # no record, or another family's (a DBN untied for fine-tuning)
        record = {"data": record.get("data", {})}
    shape = image_shape or record.get("data", {}).get("image_shape") or square(model)
    ours = {
        "family": model.family,
        "config": model.saved_config(),
        "data": {"image_shape": list(shape)},
        **model.saved_meta(),
        "saved": {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "from_run": loaded_from,
                  "versions": versions()},
    }
    return merged({"versions": versions(), **record}, ours)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes``; a dict in both is merged the same way."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def square(model: Saveable) -> tuple[int, int]:
    """The square image shape of a model's visible units."""
    pixels = getattr(model, "n_visible", None)
    side = math.isqrt(pixels) if pixels else 0
    if not pixels or side * side != pixels:
        raise ConfigError(f"save: {type(model).__name__} has no known image shape; pass image_shape=(height, width)")
    return side, side
