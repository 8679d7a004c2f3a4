"""The IDX file format of MNIST-like data sets: a header of type and shape, then the values.

A file is read raw or gzip-compressed; every header is checked against its payload,
and anything else is refused with a one-line message naming the file.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import BinaryIO

import torch

from genlab.errors import GenlabError

UBYTE = 0x08  # the IDX element type of MNIST-like files
IDX_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 1 << 30  # the most values genlab reads from one file: 1 GiB, 22 times MNIST's training images
MAX_DIMS = 16  # IDX allows 255 dimensions; image and label files have 3 and 1


def decompressed(path: Path, limit: int = MAX_IDX_BYTES) -> bytearray:
    """The file's bytes, gunzipped when they are gzip data.

    The file is read as a stream, never past what its IDX header says it holds (and one byte
    more, to tell trailing data), into one buffer: a small file that would expand to gigabytes
    costs no more memory than its header declares. A header that declares more than ``limit``
    bytes of values is refused.
    """
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if not magic:
                raise GenlabError(f"{path}: empty file, expected an IDX file (raw or gzip)")
            if magic == GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw) as stream:
                    return read_declared(stream, path, limit)
            if path.suffix == ".gz":
                raise GenlabError(f"{path}: not gzip data (no gzip magic number), expected a gzip-compressed IDX file")
            return read_declared(raw, path, limit)
    except EOFError:
        raise GenlabError(f"{path}: truncated gzip data, expected a complete gzip stream") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise GenlabError(f"{path}: corrupt gzip data ({e}), expected a gzip-compressed IDX file") from None
    except OSError as e:
        raise GenlabError(f"{path}: cannot read ({e.strerror or e})") from None


def read_declared(stream: BinaryIO, path: Path, limit: int) -> bytearray:
    """The header of an IDX stream and at most one byte more than the values it declares. A header that
    is not one of unsigned bytes comes back alone, for :func:`parse_idx` to say what is wrong with it."""
    head = bytearray(read_exactly(stream, 4))
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] != UBYTE:
        return head
    head += read_exactly(stream, 4 * head[3])
    shape = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(head[3])]
    if len(head) < 4 + 4 * head[3]:
        return head
    size = math.prod(shape)
    if size > limit:
        dims_text = " x ".join(map(str, shape))
        raise GenlabError(f"{path}: header says {dims_text} = {size:,} bytes of data, more than genlab reads from "
                          f"one file ({limit:,} bytes)")
    buffer = bytearray(len(head) + size + 1)
    buffer[: len(head)] = head
    view, filled = memoryview(buffer)[len(head) :], 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            break
        filled += got
    view.release()
    del buffer[len(head) + filled :]
    return buffer


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """n bytes of the stream, or fewer where it ends."""
    parts, left = [], n
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def parse_idx(data: bytes | bytearray, source: str | Path, ndim: int | None = None) -> torch.Tensor:
    """Parse IDX bytes into a uint8 tensor, checking the header against the payload. The tensor shares
    the memory of a ``bytearray`` (no copy of the values)."""
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
    if dims > MAX_DIMS:
        raise GenlabError(f"{source}: {dims} dimensions in the header, expected at most {MAX_DIMS}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise GenlabError(f"{source}: truncated header, expected {header} bytes for {dims} dimension(s)")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    expected = 1
    for size in shape:
        expected *= size
    payload = len(data) - header
    if payload != expected:
        dims_text = " x ".join(map(str, shape))
        has = f"{payload}, truncated" if payload < expected else "more, trailing bytes"
        raise GenlabError(f"{source}: header says {dims_text} = {expected} bytes of data, file has {has}")
    values = memoryview(data)[header:] if isinstance(data, bytearray) else bytearray(data[header:])
    if not len(values):
        return torch.zeros(shape, dtype=torch.uint8)
    return torch.frombuffer(values, dtype=torch.uint8).reshape(shape)


def read_idx(path: str | Path, ndim: int | None = None) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (raw or gzip) as a uint8 tensor."""
    path = Path(path)
    return parse_idx(decompressed(path), path, ndim)
