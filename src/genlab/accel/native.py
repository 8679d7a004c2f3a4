"""Native CPU kernels: C sources shipped with genlab, built on first use by the system's C compiler.

``cd_epoch.c`` runs a whole CD-k epoch of a binary RBM with binarised data (see its
header comment): its products are sums of the rows picked by the 0/1 states, a sixth
of a dense product's work on MNIST. The library is built once per machine into
genlab's cache directory (``$GENLAB_CACHE_DIR/native`` or ``~/.cache/genlab/native``),
for this processor (``-march=native``) and with OpenMP threads where the compiler has
them. Without a working compiler :func:`library` is ``None``, with a one-line warning, and the
RBM's fast path runs compiled PyTorch steps instead. The same epoch on CUDA, in Triton kernels, is
:mod:`genlab.accel.cd_cuda`.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

from genlab.accel.threefry import CounterStream
from genlab.data import cache_root

SOURCE = Path(__file__).with_name("cd_epoch.c")
FLAGS = ("-O3", "-march=native", "-ffast-math", "-shared", "-fPIC")
MAX_INDEX = 32767  # the kernel's lists hold int16 indices: units of a layer, images of a minibatch


def compiler() -> str | None:
    """$CC when it is set, else the first of cc, gcc and clang on PATH; None when there is none."""
    cc = os.environ.get("CC")
    return next((name for name in ((cc,) if cc else ("cc", "gcc", "clang")) if shutil.which(name)), None)


@functools.cache
def library() -> ctypes.CDLL | None:
    """The built kernels (built now if this machine has no copy yet), or None if they cannot be built."""
    cc = compiler()
    if cc is None:
        missing = f"$CC ({os.environ['CC']}) is not a program" if os.environ.get("CC") else "no cc, gcc or clang on PATH"
        warnings.warn(f"genlab: {missing}, so no native CPU kernel; using the PyTorch path", stacklevel=2)
        return None
    source = SOURCE.read_bytes()
    for extra in (("-fopenmp",), ()):  # OpenMP threads if the compiler has them, else one thread
        flags = (*FLAGS, *extra)
        tag = hashlib.sha256(b"\0".join([source, cc.encode(), " ".join(flags).encode(), machine_id()])).hexdigest()[:16]
        path = cache_root() / "native" / f"cd_epoch-{tag}.so"
        if not path.exists() and not build(cc, flags, path):
            continue
        return load(path)
    warnings.warn(f"genlab: could not build its native CPU kernel with {cc}; using the PyTorch path", stacklevel=2)
    return None


def load(path: Path) -> ctypes.CDLL:
    """A built copy of the kernels, with its function's signature declared."""
    lib = ctypes.CDLL(str(path))
    lib.genlab_cd_epoch.restype = ctypes.c_double
    pointer, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.genlab_cd_epoch.argtypes = [pointer, pointer, i64, i64, i64, i64, ctypes.c_int, pointer, pointer, pointer,
                                    ctypes.c_float, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int]
    lib.genlab_dbn_up.restype = ctypes.c_int
    lib.genlab_dbn_up.argtypes = [pointer, pointer, i64, i64, i64, i64, pointer, pointer, ctypes.c_uint32,
                                  ctypes.c_uint32, pointer, ctypes.c_int]
    lib.genlab_counter_bernoulli.restype = None
    lib.genlab_counter_bernoulli.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, i64, pointer, pointer,
                                             ctypes.c_int]
    lib.genlab_counter_uniform.restype = None
    lib.genlab_counter_uniform.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, i64, pointer, ctypes.c_int]
    return lib


def machine_id() -> bytes:
    """What ``-march=native`` depends on: the processor (and the host, for shared home directories)."""
    cpu = ""
    try:
        cpu = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    return f"{platform.node()}|{platform.machine()}|{platform.processor()}|{cpu}".encode()


def build(cc: str, flags: tuple[str, ...], path: Path) -> bool:
    """Compile SOURCE into ``path`` (written whole or not at all); False if that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            out = Path(tmp) / path.name
            done = subprocess.run([cc, *flags, str(SOURCE), "-o", str(out), "-lm"], capture_output=True, check=False,
                                  timeout=300)
            if done.returncode != 0:
                return False
            os.replace(out, path)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return True


def supports(x: torch.Tensor, W: torch.Tensor) -> bool:
    """Whether :func:`cd_epoch` can train ``W`` on ``x`` (CPU float32, at most MAX_INDEX units a layer)."""
    return (x.device.type == "cpu" and W.device.type == "cpu" and x.dtype == W.dtype == torch.float32
            and max(W.shape) <= MAX_INDEX and library() is not None)


def key_words(key: torch.Tensor) -> tuple[int, int]:
    """A counter stream's key (two 32-bit words, any integer dtype) as the two unsigned ints the C functions take."""
    key0, key1 = (int(word) & 0xFFFFFFFF for word in key.tolist())
    return key0, key1


def cd_epoch(W: torch.Tensor, v_bias: torch.Tensor, h_bias: torch.Tensor, x: torch.Tensor, order: torch.Tensor,
             key: torch.Tensor, lr: float, batch_size: int, k: int = 1, first_draw: int = 0) -> float:
    """One CD-k epoch over the rows ``x[order]`` in minibatches of ``batch_size``, updating W and the biases in place.

    Minibatch i draws from the counter stream (``key``, i) exactly as the compiled step does
    (:class:`genlab.accel.threefry.CounterStream`: v0 ~ Bernoulli(x), then h0, v1, h1, ..., v_k), from its draw
    ``first_draw`` on (1 for a DBN's top RBM, whose minibatch drew its v first). Returns the summed squared
    error between the pixels and p(v | h0).
    """
    lib = library()
    if lib is None or not supports(x, W):
        raise RuntimeError("genlab's native CD kernel is not available for these tensors")
    check_arguments(W, v_bias, h_bias, x, order, key, batch_size)
    most = (CounterStream.DRAWS_PER_STEP - 1 - first_draw) // 2
    if first_draw < 0 or not 1 <= k <= most:
        raise ValueError(f"cd_epoch: k must be in [1, {most}] (2k + 1 draws of a counter-stream step from draw "
                         f"{first_draw}), got {k}")
    x, order = x.contiguous(), order.to(torch.int64).contiguous()
    key0, key1 = key_words(key)
    error = lib.genlab_cd_epoch(x.data_ptr(), order.data_ptr(), order.numel(), W.shape[0], W.shape[1], batch_size, k,
                                W.data_ptr(), v_bias.data_ptr(), h_bias.data_ptr(), lr, key0, key1, first_draw,
                                torch.get_num_threads())
    if error < 0:
        raise MemoryError("genlab's native CD kernel could not allocate its buffers")
    return error


def dbn_up(W: torch.Tensor, h_bias: torch.Tensor, x: torch.Tensor, order: torch.Tensor, key: torch.Tensor,
           batch_size: int) -> torch.Tensor:
    """The h1 of a DBN's greedy epoch over the rows ``x[order]`` in minibatches of ``batch_size``, in that order:
    minibatch i's v ~ Bernoulli(x) and h1 ~ Bernoulli(sigmoid(h_bias + v W)) from draws 0 and 1 of the counter
    stream (``key``, i), as :func:`genlab.algorithms.dbn.greedy_step` draws them (the sigmoid computed here,
    equal up to rounding)."""
    lib = library()
    if lib is None or not supports(x, W):
        raise RuntimeError("genlab's native kernels are not available for these tensors")
    check_arguments(W, None, h_bias, x, order, key, batch_size, caller="dbn_up")
    x, order = x.contiguous(), order.to(torch.int64).contiguous()
    out = torch.empty(order.numel(), W.shape[1])
    key0, key1 = key_words(key)
    status = lib.genlab_dbn_up(x.data_ptr(), order.data_ptr(), order.numel(), W.shape[0], W.shape[1], batch_size,
                               W.data_ptr(), h_bias.data_ptr(), key0, key1, out.data_ptr(), torch.get_num_threads())
    if status < 0:
        raise MemoryError("genlab's native up pass could not allocate its buffers")
    return out


def counter_uniform(key: torch.Tensor, draw: int, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Draw number ``draw`` (``step * DRAWS_PER_STEP + i``) of the counter stream ``key`` as float32 U[0, 1)
    values of ``shape``: :meth:`genlab.accel.threefry.CounterStream.uniform`'s numbers, bit for bit, computed
    in C (needs :func:`library`)."""
    lib = library()
    if lib is None:
        raise RuntimeError("genlab's native kernels are not available")
    out = torch.empty(shape, dtype=torch.float32)
    key0, key1 = key_words(key)
    lib.genlab_counter_uniform(key0, key1, draw & 0xFFFFFFFF, out.numel(), out.data_ptr(), torch.get_num_threads())
    return out


def counter_bernoulli(key: torch.Tensor, draw: int, p: torch.Tensor) -> torch.Tensor:
    """Bernoulli(``p``) states as 0./1. float32 values from draw number ``draw`` of the counter stream ``key``:
    ``(counter_uniform(key, draw, p.shape) < p)`` bit for bit, in one pass in C (``p``: float32 on the CPU)."""
    lib = library()
    if lib is None:
        raise RuntimeError("genlab's native kernels are not available")
    p = p.contiguous()
    out = torch.empty_like(p)
    key0, key1 = key_words(key)
    lib.genlab_counter_bernoulli(key0, key1, draw & 0xFFFFFFFF, p.numel(), p.data_ptr(), out.data_ptr(),
                                 torch.get_num_threads())
    return out


class NativeCounterStream(CounterStream):
    """A :class:`~genlab.accel.threefry.CounterStream` on the CPU whose draws are computed in C
    (:func:`counter_uniform`): the same numbers, without the Threefry rounds as Python tensor operations,
    for the plain loops of settings that only they run (centring, tempering). ``step`` is an int."""

    def __init__(self, key: torch.Tensor, step: int) -> None:
        super().__init__(key, torch.tensor(step))

    def draw_number(self) -> int:
        """The counter word of the next draw: ``step * DRAWS_PER_STEP + i``."""
        return int(self.step) * self.DRAWS_PER_STEP + self.next_draw()

    def uniform(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        return counter_uniform(self.key, self.draw_number(), shape)

    def bernoulli(self, p: torch.Tensor) -> torch.Tensor:
        if p.dtype != torch.float32 or p.device.type != "cpu":
            return super().bernoulli(p)
        return counter_bernoulli(self.key, self.draw_number(), p)


def check_arguments(W: torch.Tensor, v_bias: torch.Tensor | None, h_bias: torch.Tensor, x: torch.Tensor,
                    order: torch.Tensor, key: torch.Tensor, batch_size: int, order_values: bool = True,
                    caller: str = "cd_epoch") -> None:
    """What the kernels assume and cannot check themselves (they would read or write out of bounds), for the
    errors of ``caller``; ``v_bias`` None where the kernel reads no visible bias (the up pass);
    ``order_values=False`` leaves out the check of the row numbers' range, which waits for a GPU."""
    n_visible, n_hidden = W.shape
    v_bias = W.new_empty(n_visible) if v_bias is None else v_bias
    if not all(p.is_contiguous() and p.dtype == torch.float32 for p in (W, v_bias, h_bias)):
        raise ValueError(f"{caller}: W and the biases must be contiguous float32 tensors (cd_epoch updates them in "
                         "place)")
    if v_bias.shape != (n_visible,) or h_bias.shape != (n_hidden,):
        raise ValueError(f"{caller}: v_bias and h_bias must have shapes ({n_visible},) and ({n_hidden},) for W of "
                         f"shape {tuple(W.shape)}, got {tuple(v_bias.shape)} and {tuple(h_bias.shape)}")
    if x.dim() != 2 or x.shape[1] != n_visible:
        raise ValueError(f"{caller}: x must have {n_visible} columns (W's rows), got shape {tuple(x.shape)}")
    if order.dim() != 1 or order.dtype.is_floating_point or (order_values and order.numel() and (
            int(order.min()) < 0 or int(order.max()) >= x.shape[0])):
        raise ValueError(f"{caller}: order must be a 1-D integer tensor of row numbers of x, in [0, {x.shape[0]})")
    if key.numel() != 2:
        raise ValueError(f"{caller}: key must hold two 32-bit words, got {key.numel()} values")
    if not 1 <= batch_size <= MAX_INDEX:
        raise ValueError(f"{caller}: batch_size must be in [1, {MAX_INDEX}], got {batch_size}")
