"""The known data sets, where they are looked for, download and verification, and reading a split.

Where a data set is looked for, in order:

1. ``--data-dir DIR`` (must then hold the files),
2. the ``GENLAB_DATA_DIR`` environment variable,
3. ``~/.cache/genlab/<dataset>/`` (or ``$GENLAB_CACHE_DIR/<dataset>/``),
4. for fashion-mnist, ``/usr/share/datasets/fashion-mnist/`` (Debian's
   ``dataset-fashion-mnist`` package),

and if none holds it, a known data set is downloaded into the cache. Any other
directory holding the four files under their standard names is a custom data set
(``--dataset PATH``), used without checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.data.idx import decompressed, parse_idx
from genlab.data.images import ImageSet
from genlab.errors import ConfigError, GenlabError

# The four files of a data set, by role, under their standard names.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """A known data set: checksums of the decompressed files and where to get them."""

    name: str
    sha256: dict[str, str]  # by standard file name, of the decompressed bytes
    mirrors: tuple[str, ...]  # base URLs; each file is <mirror><name>.gz
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        classes=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


# ----------------------------------------------------------------------------- locating data sets


@dataclass(frozen=True)
class DataSource:
    """Where a data set's four files are: ``spec`` is None for a custom data set."""

    name: str
    directory: Path
    spec: DatasetSpec | None

    def path(self, stem: str) -> Path:
        found = find_file(self.directory, stem)
        if found is None:
            raise GenlabError(f"{self.directory}: no {stem} or {stem}.gz, expected the four IDX files of {self.name}")
        return found

    @property
    def classes(self) -> tuple[str, ...] | None:
        return self.spec.classes if self.spec else None


def find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def has_files(directory: Path) -> bool:
    return directory.is_dir() and all(find_file(directory, stem) for stem in FILES.values())


def cache_root() -> Path:
    """Where genlab keeps downloads and derived files: $GENLAB_CACHE_DIR or ~/.cache/genlab."""
    return Path(os.environ.get("GENLAB_CACHE_DIR") or Path.home() / ".cache" / "genlab").expanduser()


def cache_dir(name: str) -> Path:
    return cache_root() / name


def candidate_dirs(spec: DatasetSpec) -> list[Path]:
    dirs = []
    if os.environ.get("GENLAB_DATA_DIR"):
        dirs.append(Path(os.environ["GENLAB_DATA_DIR"]).expanduser().resolve())  # relative to where genlab started
    dirs.append(cache_dir(spec.name))
    dirs.extend(Path(d) for d in spec.system_dirs)
    return dirs


def resolve(dataset: str = "mnist", data_dir: str | Path | None = None, download_missing: bool = True) -> DataSource:
    """Find a data set by name (or a custom directory), downloading a known one if needed."""
    spec = DATASETS.get(dataset)
    if spec is None:
        directory = Path(dataset).expanduser()
        if not directory.is_dir():
            raise ConfigError(
                f"--dataset: unknown data set {dataset!r}, expected {', '.join(DATASETS)} or a directory of IDX files"
            )
        if not has_files(directory):
            raise ConfigError(f"--dataset: {directory} does not hold the four IDX files ({', '.join(FILES.values())})")
        return DataSource(directory.name, directory, None)
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        if not has_files(directory):
            missing = [s for s in FILES.values() if find_file(directory, s) is None]
            raise GenlabError(f"--data-dir {directory}: missing {', '.join(missing)} (raw or .gz) of {spec.name}")
        return DataSource(spec.name, directory, spec)
    for directory in candidate_dirs(spec):
        if has_files(directory) and not _holds_another_known_dataset(directory, spec):
            return DataSource(spec.name, directory, spec)
    if not download_missing:
        raise GenlabError(missing_message(spec))
    return DataSource(spec.name, download(spec.name), spec)


def _holds_another_known_dataset(directory: Path, spec: DatasetSpec) -> bool:
    """True when the directory's (small) test labels file is another known data set's.

    So that ``GENLAB_DATA_DIR`` pointing at MNIST does not shadow fashion-mnist.
    """
    stem = FILES["test_labels"]
    try:
        digest = hashlib.sha256(decompressed(directory / find_file(directory, stem).name)).hexdigest()
    except GenlabError:
        return False
    return any(other.sha256[stem] == digest for other in DATASETS.values() if other is not spec)


def missing_message(spec: DatasetSpec, reason: str = "") -> str:
    names = ", ".join(f"{s}.gz" for s in FILES.values())
    where = cache_dir(spec.name)
    return (
        f"{spec.name} not found{reason}: put {names} into {where} "
        f"(or any directory given with --data-dir or GENLAB_DATA_DIR)"
    )


# ----------------------------------------------------------------------------- download


def download(
    name: str = "mnist",
    directory: str | Path | None = None,
    mirrors: tuple[str, ...] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Fetch a known data set, verify checksums, and store it under ``directory``.

    Each file goes to a temporary file first and is renamed only once its
    decompressed content matches the checksum; on any failure the next mirror is
    tried. Files already present and correct are kept.
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise ConfigError(f"--dataset: unknown data set {name!r}, expected one of {', '.join(DATASETS)}")
    target = Path(directory).expanduser() if directory else cache_dir(name)
    target.mkdir(parents=True, exist_ok=True)
    for stem, sha in spec.sha256.items():
        existing = find_file(target, stem)
        if existing is not None and _sha256_ok(existing, sha):
            continue
        errors = []
        for mirror in mirrors or spec.mirrors:
            url = f"{mirror}{stem}.gz"
            try:
                _fetch_verified(url, target / f"{stem}.gz", sha, progress, timeout)
                break
            except (OSError, ValueError, EOFError, zlib.error) as e:
                errors.append(f"{url}: {e}")
        else:
            last = errors[-1] if errors else "no mirrors"
            raise GenlabError(missing_message(spec, f" and the download failed ({last})"))
    return target


def _sha256_ok(path: Path, sha: str) -> bool:
    try:
        return hashlib.sha256(decompressed(path)).hexdigest() == sha
    except GenlabError:
        return False


def _fetch_verified(url: str, dest: Path, sha: str, progress: bool, timeout: float) -> None:
    from tqdm import tqdm

    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.part")
    try:
        with tmp.open("xb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress, leave=False) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        got = hashlib.sha256(gzip.decompress(tmp.read_bytes())).hexdigest()
        if got != sha:
            raise ValueError(f"sha256 of the decompressed file is {got}, expected {sha}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- reading splits


def read_split(source: DataSource, split: str, verify_checksums: bool = True) -> ImageSet:
    """Read one split's images and labels, checking that they agree (and their checksums)."""
    if split not in SPLITS:
        raise ConfigError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    tensors = {}
    for role, ndim in (("images", 3), ("labels", 1)):
        stem = FILES[f"{split}_{role}"]
        path = source.path(stem)
        data = decompressed(path)
        if verify_checksums and source.spec is not None:
            got = hashlib.sha256(data).hexdigest()
            if got != source.spec.sha256[stem]:
                raise GenlabError(
                    f"{path}: sha256 of the decompressed content is {got[:16]}..., "
                    f"expected {source.spec.sha256[stem][:16]}... for {source.name} (corrupt or a different data set)"
                )
        tensors[role] = parse_idx(data, path, ndim)
    images, labels = tensors["images"], tensors["labels"]
    if images.shape[0] == 0:
        raise GenlabError(f"{source.path(FILES[f'{split}_images'])}: holds no images, expected at least one")
    if images.shape[0] != labels.shape[0]:
        raise GenlabError(
            f"{source.path(FILES[f'{split}_labels'])}: {labels.shape[0]} labels, "
            f"expected {images.shape[0]} to match {source.path(FILES[f'{split}_images']).name}"
        )
    return ImageSet(images, labels.long(), f"{source.name}/{split}")


def load_split(
    dataset: str | DataSource = "mnist",
    split: str = "train",
    device: torch.device | str = "cpu",
    limit: int | None = None,
    data_dir: str | Path | None = None,
) -> ImageSet:
    """A split on ``device``; ``limit`` keeps the first N images in the original order."""
    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit: expected a positive number, got {limit}")
    source = dataset if isinstance(dataset, DataSource) else resolve(dataset, data_dir)
    return read_split(source, split).head(limit).to(device)


def checksums(source: DataSource) -> dict[str, str]:
    """sha256 of each decompressed file (the known values for a known data set)."""
    if source.spec is not None:
        return dict(source.spec.sha256)
    return {stem: hashlib.sha256(decompressed(source.path(stem))).hexdigest() for stem in FILES.values()}


# ----------------------------------------------------------------------------- verify / info


@dataclass
class FileReport:
    path: Path
    shape: tuple[int, ...]
    checksum: str  # "ok", "mismatch" or "not checked (custom data set)"


def verify(source: DataSource) -> tuple[list[FileReport], dict[str, list[int]]]:
    """Check every file (checksums, headers, counts); return file reports and per-class counts.

    Raises GenlabError with one line naming the first bad file.
    """
    reports, class_counts = [], {}
    for split in SPLITS:
        for role, ndim in (("images", 3), ("labels", 1)):
            stem = FILES[f"{split}_{role}"]
            path = source.path(stem)
            data = decompressed(path)
            if source.spec is not None:
                got = hashlib.sha256(data).hexdigest()
                if got != source.spec.sha256[stem]:
                    raise GenlabError(
                        f"{path}: sha256 mismatch (got {got[:16]}..., expected {source.spec.sha256[stem][:16]}...)"
                    )
                status = "ok"
            else:
                status = "not checked (custom data set)"
            tensor = parse_idx(data, path, ndim)
            reports.append(FileReport(path, tuple(tensor.shape), status))
        split_set = read_split(source, split, verify_checksums=False)
        class_counts[split] = torch.bincount(split_set.labels).tolist()
    return reports, class_counts


def info(source: DataSource) -> dict:
    """Shapes, counts, classes and pixel statistics of a data set."""
    out: dict = {"dataset": source.name, "directory": str(source.directory), "known": source.spec is not None}
    for split in SPLITS:
        s = read_split(source, split, verify_checksums=False)
        out[split] = {
            "images": len(s),
            "image_shape": list(s.image_shape),
            "classes": int(s.labels.max()) + 1,
            "pixel_mean": round(s.images.float().mean().item() / 255, 4),
        }
    if source.classes:
        out["class_names"] = list(source.classes)
    return out




def recorded_source(record: dict, data_dir: str | Path | None = None) -> DataSource:
    """The data set a run was trained on, from the ``data`` record of its config.json: ``data_dir``
    if given, else the directory it was trained from, else the usual lookup."""
    name = record.get("dataset", "mnist")
    known = name in DATASETS
    if data_dir is not None:
        return resolve(name if known else str(data_dir), data_dir if known else None)
    recorded = record.get("directory")
    if recorded and has_files(Path(recorded)):
        return resolve(name, recorded) if known else resolve(recorded)
    return resolve(name)
