"""Threefry-2x32-20, a counter-based random number generator, and the counter streams of the fast paths.

Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (2011), written in plain
integer tensor arithmetic. A :class:`CounterStream` keeps no state on the device, so a
compiled training step draws its random numbers inside its own fused kernels, and it
gives the same bits on every device, eager or compiled. genlab's own CD kernels (C and
Triton) compute the same function, so every path of the RBM's and the DBN's training, the
plain loop included, draws the same bits for a seed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.rng import device_of


# -- Threefry-2x32-20 ----------------------------------------------------------

_MASK = 0xFFFFFFFF
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # the key schedule's constant (Skein's C240 for 32-bit words)

Word = torch.Tensor | int


def _wrap(x: Word) -> Word:
    """x modulo 2^32: Python ints are masked; int32 tensors wrap by themselves."""
    return x & _MASK if isinstance(x, int) else x


def _rotl(x: Word, s: int) -> Word:
    """Rotate a 32-bit word left by s bits (the right shift of an int32 is arithmetic: mask its sign bits off)."""
    return _wrap(x << s) | ((x >> (32 - s)) & ((1 << s) - 1))


def threefry2x32(key: tuple[Word, Word], counter: tuple[Word, Word]) -> tuple[Word, Word]:
    """Threefry-2x32 with 20 rounds: a key and a counter of two 32-bit words each -> two random words.

    Words are Python ints in [0, 2^32) or int32 tensors holding the words' bits (see
    :func:`as_int32`), whose additions wrap around modulo 2^32 as PyTorch's integer
    kernels do, eager and compiled (the tests check Random123's answers both ways);
    they use half the memory and twice the vector lanes of int64. Tensors broadcast:
    one key with many counters gives many independent outputs.
    """
    k0, k1 = key
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = _wrap(counter[0] + k0), _wrap(counter[1] + k1)
    for r in range(20):
        x0 = _wrap(x0 + x1)
        x1 = _rotl(x1, _ROTATIONS[r % 8]) ^ x0
        if r % 4 == 3:  # key injection every four rounds
            j = r // 4 + 1
            x0 = _wrap(x0 + ks[j % 3])
            x1 = _wrap(x1 + ks[(j + 1) % 3] + j)
    return x0, x1


def as_int32(words: torch.Tensor) -> torch.Tensor:
    """32-bit words held as integers in [0, 2^32) (any integer dtype) -> int32 tensors of the same bits."""
    words = words.to(torch.int64) & _MASK
    return torch.where(words > 0x7FFFFFFF, words - (1 << 32), words).to(torch.int32)


def as_unsigned(words: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`as_int32`: int32 bits -> int64 values in [0, 2^32)."""
    return words.to(torch.int64) & _MASK


class CounterStream:
    """Draws for one training step: Threefry-2x32 of (element index, draw number) under a key.

    ``key`` is an int64 tensor of two 32-bit words (see :func:`new_key`); ``step`` is
    a 0-d int64 tensor. Draw number i of step s uses the counter word
    ``s * DRAWS_PER_STEP + i``, so no two draws under one key share a counter as long
    as each step makes fewer than ``DRAWS_PER_STEP`` draws and there are fewer than
    2^32 / DRAWS_PER_STEP steps per key.
    """

    DRAWS_PER_STEP = 256

    def __init__(self, key: torch.Tensor, step: torch.Tensor) -> None:
        self.key, self.step, self.draws = as_int32(key), step, 0

    def next_draw(self) -> int:
        """The number i of the next draw of this step (its counter word is ``step * DRAWS_PER_STEP + i``)."""
        if self.draws >= self.DRAWS_PER_STEP:
            raise ValueError(f"a CounterStream makes at most {self.DRAWS_PER_STEP} draws per step")
        self.draws += 1
        return self.draws - 1

    def bits(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        """Independent uniform 32-bit words (as int32 bits, see :func:`as_unsigned`) of the given shape."""
        n = 1
        for size in shape:
            n *= size
        index = torch.arange((n + 1) // 2, dtype=torch.int32, device=self.key.device)
        draw = as_int32(self.step * self.DRAWS_PER_STEP + self.next_draw())
        x0, x1 = threefry2x32((self.key[0], self.key[1]), (index, draw))
        return torch.cat([x0, x1])[:n].view(shape)

    def uniform(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        """float32 U[0, 1) draws with 24 random bits each (every value k / 2^24 equally likely), as ``torch.rand``."""
        top24 = (self.bits(shape) >> 8) & 0xFFFFFF
        return top24.to(torch.float32) * (1.0 / (1 << 24))

    def bernoulli(self, p: torch.Tensor) -> torch.Tensor:
        """Bernoulli(p) states as 0./1. values of p's dtype from the next draw: u < p for its uniforms u."""
        return (self.uniform(p.shape) < p).to(p.dtype)


class CounterSequence:
    """An unbounded sequence of counter-stream draws under one key, for estimators that draw far more than one
    step's :attr:`CounterStream.DRAWS_PER_STEP` (AIS, Gibbs chains): draw number n is draw ``n % DRAWS_PER_STEP``
    of step ``n // DRAWS_PER_STEP`` of ``streams`` (an epoch's streams, :func:`genlab.accel.counter_streams`), so
    its counter word is n itself."""

    STEPS = (1 << 32) // CounterStream.DRAWS_PER_STEP  # the counter words of one key

    def __init__(self, streams: Callable[[int], CounterStream]) -> None:
        self.streams, self.step = streams, 0
        self.current = streams(0)

    def stream(self) -> CounterStream:
        """The step's stream that makes the next draw (the next step's once a step's draws are spent)."""
        if self.current.draws == CounterStream.DRAWS_PER_STEP:
            if self.step + 1 == self.STEPS:
                raise ValueError(f"a CounterSequence makes at most 2^32 draws ({self.STEPS:,} steps of "
                                 f"{CounterStream.DRAWS_PER_STEP})")
            self.step += 1
            self.current = self.streams(self.step)
        return self.current

    def uniform(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        return self.stream().uniform(shape)

    def bernoulli(self, p: torch.Tensor) -> torch.Tensor:
        """Bernoulli(p) states from the next draw, as :meth:`CounterStream.bernoulli`."""
        return self.stream().bernoulli(p)


def new_key(generator: torch.Generator | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """A fresh Threefry key (two 32-bit words as int64) drawn from ``generator``."""
    return torch.randint(0, 1 << 32, (2,), generator=generator, dtype=torch.int64, device=device_of(generator)).to(device)
