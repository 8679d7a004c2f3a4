"""Images held in memory (a tensor, a NumPy array or a ``Dataset``) as a data set genlab trains on.

They become a custom data set like any other: the four IDX files, written once into
``<cache>/memory/memory-<sha256>/`` (the first 16 hex digits of the SHA-256 of their content;
the same images, the same directory), with ``memory.json`` saying what was given. A run trained
on them records that directory and the files' checksums, so it is identified by its data and
``genlab eval`` finds them again; training goes through the same code as from files.

Pixels are stored as the IDX files store them, 8 bits each: uint8 values 0-255 as they are,
floats in [0, 1] as ``round(255 x)`` (exact for images read as ``uint8 / 255``).

* Without labels the label files hold 0 for every image: training needs no labels, but the
  linear probe and the sample-quality classifier of ``genlab eval`` do, so eval refuses such a run.
* Without test images the test split is the training images themselves, so that training's
  per-epoch test numbers and figures are there; ``genlab eval`` refuses such a run, as it would
  measure on the training images.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.data.idx import MAX_IDX_BYTES
from genlab.data.sets import FILES, DataSource, cache_root
from genlab.errors import ConfigError, GenlabError
from genlab.files import write_bytes, write_json

MEMORY_DIR = "memory"  # under the cache root
DESCRIPTION = "memory.json"  # what was given: labels, test images, counts, shape


@dataclass(frozen=True)
class MemorySplit:
    """One split given in memory, checked: ``images`` uint8 [N, H, W], ``labels`` int64 [N] or None."""

    images: torch.Tensor
    labels: torch.Tensor | None


def as_split(value: Any, where: str, image_shape: Sequence[int] | None = None) -> MemorySplit:
    """Images as :class:`MemorySplit`: a tensor or NumPy array of images ([N, H, W], [N, 1, H, W], or
    [N, H*W] with ``image_shape``), a pair (images, labels) of those, or a ``torch.utils.data.Dataset``
    whose items are images or (image, label) pairs. ``where`` names the argument in errors."""
    if isinstance(value, torch.utils.data.Dataset):
        return of_dataset(value, where, image_shape)
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ConfigError(f"{where}: expected images or a pair (images, labels), got a sequence of {len(value)}")
        images = as_images(value[0], where, image_shape)
        return MemorySplit(images, as_labels(value[1], len(images), where))
    return MemorySplit(as_images(value, where, image_shape), None)


def of_dataset(dataset: torch.utils.data.Dataset, where: str, image_shape: Sequence[int] | None) -> MemorySplit:
    """A map-style ``Dataset`` (``len`` and indexing) of images or (image, label) pairs, read in order."""
    if not hasattr(dataset, "__len__"):
        raise ConfigError(f"{where}: expected a Dataset with a length (a map-style Dataset)")
    items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    if not items:
        raise ConfigError(f"{where}: the Dataset holds no images, expected at least one")
    paired = isinstance(items[0], tuple | list)
    if any(isinstance(item, tuple | list) != paired for item in items):
        raise ConfigError(f"{where}: expected every item to be an image, or every item an (image, label) pair")
    pixels = [as_array(item[0] if paired else item, f"{where}[{i}]") for i, item in enumerate(items)]
    if len({p.shape for p in pixels}) > 1:
        raise ConfigError(f"{where}: images of different shapes ({pixels[0].shape} and others), expected one shape")
    images = as_images(np.stack(pixels), where, image_shape)
    labels = as_labels([item[1] for item in items], len(images), where) if paired else None
    return MemorySplit(images, labels)


def as_array(image: Any, where: str) -> np.ndarray:
    """One image (a tensor, an array or a PIL image) as a NumPy array."""
    if isinstance(image, torch.Tensor):
        return image.detach().cpu().numpy()
    try:
        return np.asarray(image)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: expected an image (a tensor, an array or a PIL image), got {type(image).__name__} ({e})") from None


def as_images(value: Any, where: str, image_shape: Sequence[int] | None = None) -> torch.Tensor:
    """Images as uint8 [N, H, W] on the CPU: uint8 pixels as they are, float pixels in [0, 1] as round(255 x)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "uif":
            raise ConfigError(f"{where}: a NumPy array of {value.dtype}, expected uint8 or float pixels")
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise ConfigError(f"{where}: got {type(value).__name__}, expected a tensor, a NumPy array or a Dataset of images")
    images = shaped(value.detach().cpu(), where, image_shape)
    if images.dtype == torch.uint8:
        return images.contiguous()
    if not images.is_floating_point():
        raise ConfigError(f"{where}: {images.dtype} pixels, expected uint8 (0-255) or floats in [0, 1]")
    if not bool(torch.isfinite(images).all()) or images.min() < 0 or images.max() > 1:
        raise ConfigError(f"{where}: float pixels from {images.min().item():g} to {images.max().item():g}, expected "
                          "values in [0, 1] (or uint8 0-255)")
    return images.double().mul(255).round_().to(torch.uint8)


def shaped(images: torch.Tensor, where: str, image_shape: Sequence[int] | None) -> torch.Tensor:
    """[N, H, W] of [N, H, W], [N, 1, H, W] or (with ``image_shape``) [N, H*W]."""
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() == 2:
        if image_shape is None:
            raise ConfigError(f"{where}: rows of {images.shape[1]} pixels; pass image_shape=(height, width)")
        if len(image_shape) != 2 or math.prod(image_shape) != images.shape[1]:
            raise ConfigError(f"image_shape: {tuple(image_shape)}, expected (height, width) of {images.shape[1]} pixels")
        images = images.reshape(-1, *image_shape)
    if images.dim() != 3:
        raise ConfigError(f"{where}: shape {list(images.shape)}, expected [N, H, W], [N, 1, H, W] or [N, H*W] "
                          "with image_shape")
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise ConfigError(f"{where}: shape {list(images.shape)}, expected at least one image of at least one pixel")
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ConfigError(f"image_shape: {tuple(image_shape)}, but {where} holds {tuple(images.shape[1:])} images")
    return images


def as_labels(value: Any, n: int, where: str) -> torch.Tensor:
    """Labels as int64 [n], each an integer from 0 to 255 (what an IDX label file holds)."""
    try:
        labels = value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: labels are not numbers ({e})") from None
    if labels.dim() != 1 or len(labels) != n:
        raise ConfigError(f"{where}: labels of shape {list(labels.shape)}, expected one for each of the {n} images")
    if labels.is_floating_point() and not bool((labels == labels.round()).all()):
        raise ConfigError(f"{where}: labels are not whole numbers, expected class numbers 0-255")
    labels = labels.long()
    if labels.min() < 0 or labels.max() > 255:
        raise ConfigError(f"{where}: labels from {labels.min().item()} to {labels.max().item()}, expected class numbers 0-255")
    return labels


# ----------------------------------------------------------------------------- as a data set


def idx_bytes(tensor: torch.Tensor) -> bytes:
    """A uint8 tensor as an IDX file."""
    header = bytes([0, 0, 0x08, tensor.dim()]) + b"".join(int(s).to_bytes(4, "big") for s in tensor.shape)
    return header + tensor.to(torch.uint8).contiguous().numpy().tobytes()


def memory_source(train: MemorySplit, test: MemorySplit | None = None) -> DataSource:
    """The data set of images given in memory (``test``: held-out images; None: none were given), written
    once under the cache root and named ``memory-<sha256>``. Test images must have the training images' shape,
    and labels are given for both splits or for neither."""
    if test is not None and test.images.shape[1:] != train.images.shape[1:]:
        raise ConfigError(f"test_data: {tuple(test.images.shape[1:])} images, expected the shape of data's "
                          f"{tuple(train.images.shape[1:])}")
    if test is not None and (test.labels is None) != (train.labels is None):
        raise ConfigError("test_data: labels given for one of data and test_data only; give them for both or neither")
    for name, split in (("data", train), ("test_data", test)):
        if split is not None and split.images.numel() > MAX_IDX_BYTES:
            raise ConfigError(f"{name}: {split.images.numel():,} pixels, more than the {MAX_IDX_BYTES:,} genlab reads "
                              "from one IDX file")
    held_out = test if test is not None else train  # the training images stand in for a missing test split
    files = {
        FILES["train_images"]: idx_bytes(train.images),
        FILES["train_labels"]: idx_bytes(labels_or_zeros(train)),
        FILES["test_images"]: idx_bytes(held_out.images),
        FILES["test_labels"]: idx_bytes(labels_or_zeros(held_out)),
    }
    description = {"in_memory": True, "labels": train.labels is not None, "test_data": test is not None,
                   "train_images": len(train.images), "test_images": len(test.images) if test is not None else 0,
                   "image_shape": list(train.images.shape[1:])}
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    for name in sorted(files):
        digest.update(hashlib.sha256(files[name]).digest())
    directory = cache_root() / MEMORY_DIR / f"memory-{digest.hexdigest()[:16]}"
    if not (directory / DESCRIPTION).is_file():
        write_data_set(directory, files, description)
    return DataSource(directory.name, directory, None)


def labels_or_zeros(split: MemorySplit) -> torch.Tensor:
    return split.labels if split.labels is not None else torch.zeros(len(split.images), dtype=torch.long)


def write_data_set(directory: Path, files: dict[str, bytes], description: dict[str, Any]) -> None:
    """Write the files into a temporary directory beside ``directory`` and rename it into place, so that a
    directory of that name is always whole (when another process got there first, its copy is kept)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = directory.parent / f".{directory.name}.{secrets.token_hex(8)}"
    temporary.mkdir()
    try:
        for name, content in files.items():
            write_bytes(temporary / name, content)
        write_json(temporary / DESCRIPTION, description)
        try:
            temporary.rename(directory)
        except OSError:
            if not (directory / DESCRIPTION).is_file():
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def description_of(directory: str | Path) -> dict[str, Any] | None:
    """What ``memory.json`` of a data set directory says was given in memory (None for other data sets)."""
    path = Path(directory) / DESCRIPTION
    if not path.is_file():
        return None
    try:
        description = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise GenlabError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(description, dict) or description.get("in_memory") is not True:
        raise GenlabError(f"{path}: expected the description of a data set given in memory")
    return description


def check_kept(record: dict[str, Any]) -> None:
    """Refuse in one line a run trained on images in memory (the ``data`` record of its config.json) whose
    copy in the cache is gone: they cannot be found anywhere else."""
    directory = Path(str(record.get("directory", "")))
    if str(record.get("dataset", "")).startswith("memory-") and not (directory / DESCRIPTION).is_file():
        raise GenlabError(f"{directory}: the images this run was trained on in memory are no longer in genlab's cache; "
                          "train it again with data=, or pass --data-dir with the four IDX files")


def check_measurable(source: DataSource) -> None:
    """Refuse to measure on a data set given in memory without test images or without labels, naming what
    is missing and what needs it."""
    description = description_of(source.directory)
    if description is None:
        return
    if not description.get("test_data"):
        raise GenlabError(f"{source.directory}: trained on images in memory without test_data: genlab eval needs "
                          "held-out test images; train with test_data=")
    if not description.get("labels"):
        raise GenlabError(f"{source.directory}: trained on images in memory without labels: genlab eval needs them "
                          "for the linear probe and the sample-quality classifier; pass (images, labels) as data and "
                          "test_data")
