"""Data: the IDX format (:mod:`~genlab.data.idx`), the known data sets, their lookup, download and
verification (:mod:`~genlab.data.sets`), and a split as one tensor on the device with what training
does with it in bulk (:mod:`~genlab.data.images`)."""

from genlab.data.idx import decompressed, parse_idx, read_idx
from genlab.data.images import (
    BINARIZE_SEED,
    ImageSet,
    as_float,
    batch_indices,
    binarize,
    binarized,
    chunks,
    pixel_rows,
    resize,
    rows,
    to_signed,
)
from genlab.data.sets import (
    DATASETS,
    FILES,
    SPLITS,
    DatasetSpec,
    DataSource,
    FileReport,
    cache_dir,
    cache_root,
    checksums,
    download,
    find_file,
    has_files,
    info,
    load_split,
    read_split,
    recorded_source,
    resolve,
    verify,
)

__all__ = [
    "BINARIZE_SEED", "DATASETS", "FILES", "SPLITS", "DataSource", "DatasetSpec", "FileReport", "ImageSet", "as_float",
    "batch_indices", "binarize", "binarized", "cache_dir", "chunks", "cache_root", "checksums", "decompressed", "download",
    "find_file", "has_files", "info", "load_split", "parse_idx", "pixel_rows", "read_idx", "read_split",
    "recorded_source", "resize", "resolve", "rows", "to_signed", "verify",
]
