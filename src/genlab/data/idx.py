"""The IDX file format of MNIST-like data sets: a header of type and shape, then the values.

A file is read raw or gzip-compressed; every header is checked against its payload,
and anything else is refused with a one-line message naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import torch

from genlab.errors import GenlabError

UBYTE = 0x08  # the IDX element type of MNIST-like files
IDX_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


def decompressed(path: Path) -> bytes:
    """The file's bytes, gunzipped when they are gzip data."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GenlabError(f"{path}: cannot read ({e.strerror or e})") from None
    if not raw:
        raise GenlabError(f"{path}: empty file, expected an IDX file (raw or gzip)")
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except EOFError:
            raise GenlabError(f"{path}: truncated gzip data, expected a complete gzip stream") from None
        except (OSError, zlib.error) as e:
            raise GenlabError(f"{path}: corrupt gzip data ({e}), expected a gzip-compressed IDX file") from None
    if path.suffix == ".gz":
        raise GenlabError(f"{path}: not gzip data (no gzip magic number), expected a gzip-compressed IDX file")
    return raw


def parse_idx(data: bytes, source: str | Path, ndim: int | None = None) -> torch.Tensor:
    """Parse IDX bytes into a uint8 tensor, checking the header against the payload."""
    if len(data) < 4:
        raise GenlabError(f"{source}: {len(data)} bytes, too short for an IDX header (expected at least 4)")
    zero, dtype, dims = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0:
        raise GenlabError(f"{source}: bad magic number 0x{data[:4].hex()}, expected an IDX file (0x0000 then type and rank)")
    if dtype != UBYTE:
        name = IDX_TYPE_NAMES.get(dtype, "unknown")
        raise GenlabError(f"{source}: element type 0x{dtype:02X} ({name}), expected 0x08 (unsigned byte)")
    if ndim is not None and dims != ndim:
        raise GenlabError(f"{source}: {dims} dimension(s) in the header, expected {ndim}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise GenlabError(f"{source}: truncated header, expected {header} bytes for {dims} dimension(s)")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    expected = 1
    for size in shape:
        expected *= size
    payload = len(data) - header
    if payload != expected:
        what = "truncated" if payload < expected else "trailing bytes"
        dims_text = " x ".join(map(str, shape))
        raise GenlabError(
            f"{source}: header says {dims_text} = {expected} bytes of data, file has {payload} ({what})"
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


def read_idx(path: str | Path, ndim: int | None = None) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (raw or gzip) as a uint8 tensor."""
    path = Path(path)
    return parse_idx(decompressed(path), path, ndim)
