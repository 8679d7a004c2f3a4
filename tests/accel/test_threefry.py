"""genlab.accel.threefry: the counter-based generator against Random123's answers and its statistics."""

from __future__ import annotations

import shutil

import pytest
import torch

from genlab.accel.threefry import CounterSequence, CounterStream, as_int32, as_unsigned, new_key, threefry2x32
from genlab.rng import bernoulli

M = 0xFFFFFFFF

# Threefry-2x32, 20 rounds: (key, counter) -> output, from Random123's kat_vectors
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((M, M), (M, M), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize(("key", "counter", "expected"), KNOWN_ANSWERS)
def test_threefry_matches_random123_known_answers(key, counter, expected):
    assert threefry2x32(key, counter) == expected
    as_tensors = threefry2x32(tuple(as_int32(torch.tensor(k)) for k in key), tuple(as_int32(torch.tensor(c)) for c in counter))
    assert all(t.dtype == torch.int32 for t in as_tensors)
    assert tuple(int(as_unsigned(t)) for t in as_tensors) == expected


needs_compiler = pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile needs a C++ compiler on the CPU")
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


@needs_compiler
@pytest.mark.parametrize("device", DEVICES)
def test_compiled_threefry_matches_random123_known_answers(device):
    """All three answers in one vector of counters, wide enough for the compiled kernels' vector lanes."""
    def words(i: int) -> torch.Tensor:
        return as_int32(torch.tensor([answer[i // 2][i % 2] for answer in KNOWN_ANSWERS] * 11, device=device))

    compiled = torch.compile(lambda k0, k1, c0, c1: threefry2x32((k0, k1), (c0, c1)), dynamic=False)
    x0, x1 = compiled(words(0), words(1), words(2), words(3))
    got = list(zip(as_unsigned(x0).tolist(), as_unsigned(x1).tolist()))
    assert got == [expected for _, _, expected in KNOWN_ANSWERS] * 11


@pytest.mark.parametrize("device", DEVICES)
def test_a_counter_stream_gives_the_same_bits_on_every_device(device):
    here = CounterStream(torch.tensor([0x89ABCDEF, 0x01234567], device=device), torch.tensor(70_000, device=device))
    assert torch.equal(here.bits((3, 333)).cpu(), stream(70_000, key=(0x89ABCDEF, 0x01234567)).bits((3, 333)))


def test_threefry_on_a_tensor_of_counters_matches_one_counter_at_a_time():
    key = (0x01234567, 0x89ABCDEF)
    counters = torch.tensor([0, 1, 2, 1000, 0x7FFFFFFF, 0x80000000, M], dtype=torch.int64)
    x0, x1 = threefry2x32(tuple(as_int32(torch.tensor(k)) for k in key), (as_int32(counters), as_int32(torch.tensor(7))))
    for i, c in enumerate(counters.tolist()):
        assert (int(as_unsigned(x0[i])), int(as_unsigned(x1[i]))) == threefry2x32(key, (c, 7))


def test_int32_words_round_trip_through_their_bits():
    words = torch.tensor([0, 1, 0x7FFFFFFF, 0x80000000, M], dtype=torch.int64)
    assert as_int32(words).tolist() == [0, 1, 0x7FFFFFFF, -(1 << 31), -1]
    assert torch.equal(as_unsigned(as_int32(words)), words)


def stream(step: int = 0, key=(12345, 67890)) -> CounterStream:
    return CounterStream(torch.tensor(key, dtype=torch.int64), torch.tensor(step))


def test_counter_stream_uniforms_look_independent_and_uniform():
    n = 200_000
    u = stream().uniform((n,)).double()
    assert u.dtype == torch.float64 and 0 <= u.min() and u.max() < 1
    assert u.mean().item() == pytest.approx(0.5, abs=5 * (1 / 12 / n) ** 0.5)
    assert u.var().item() == pytest.approx(1 / 12, rel=0.01)
    # Kolmogorov-Smirnov distance to U[0, 1); 1.63 / sqrt(n) is the 1% critical value
    sorted_u = u.sort().values
    grid = torch.arange(1, n + 1, dtype=torch.float64) / n
    assert (grid - sorted_u).abs().max().item() < 1.63 / n**0.5
    # neighbours, and the two output words of one counter, are uncorrelated
    assert abs(torch.corrcoef(torch.stack([u[:-1], u[1:]]))[0, 1].item()) < 5 / n**0.5
    assert abs(torch.corrcoef(torch.stack([u[: n // 2], u[n // 2 :]]))[0, 1].item()) < 5 / n**0.5


def test_counter_stream_draws_differ_by_draw_step_and_key_and_repeat_exactly():
    a = stream()
    first, second = a.bits((1000,)), a.bits((1000,))
    assert not torch.equal(first, second)
    assert torch.equal(first, stream().bits((1000,)))
    assert not torch.equal(first, stream(step=1).bits((1000,)))
    assert not torch.equal(first, stream(key=(1, 2)).bits((1000,)))
    assert first.dtype == torch.int32


def test_bernoulli_from_a_counter_stream_has_mean_p():
    p = torch.linspace(0, 1, 11).repeat(20_000, 1)
    sample = bernoulli(p, stream())
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(sample.mean(0), p[0], atol=0.015)
    assert sample[:, 0].sum() == 0 and sample[:, -1].all()


def test_new_key_draws_two_words_from_the_generator():
    a, b = new_key(torch.Generator().manual_seed(0)), new_key(torch.Generator().manual_seed(0))
    assert a.dtype == torch.int64 and a.shape == (2,) and torch.equal(a, b)
    assert (a >= 0).all() and (a <= M).all()


def test_a_stream_refuses_more_draws_per_step_than_its_counters_hold():
    s = stream()
    for _ in range(CounterStream.DRAWS_PER_STEP):
        s.bits((1,))
    with pytest.raises(ValueError, match="at most"):
        s.bits((1,))


def test_a_counter_sequence_draws_the_steps_of_one_key_one_after_the_other():
    key = torch.tensor([5, 6])
    sequence = CounterSequence(lambda step: CounterStream(key, torch.tensor(step)))
    draws = [sequence.uniform((3, 2)) for _ in range(CounterStream.DRAWS_PER_STEP + 2)]
    step0, step1 = CounterStream(key, torch.tensor(0)), CounterStream(key, torch.tensor(1))
    expected = [step0.uniform((3, 2)) for _ in range(CounterStream.DRAWS_PER_STEP)] + [step1.uniform((3, 2)) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(draws, expected, strict=True))
    assert sequence.step == 1 and len({tuple(d.flatten().tolist()) for d in draws}) == len(draws)
