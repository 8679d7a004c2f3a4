"""genlab.accel.cd_cuda: the Triton CD-1 kernels against the PyTorch steps they replace.

On a machine without a GPU the kernels run in Triton's interpreter on CPU tensors (see
conftest.py); on CUDA they run compiled, and the last tests check the training loop's use of
them (one CUDA graph an epoch).
"""

from __future__ import annotations

import pytest
import torch
from rbm_truth import same_stream_case

from genlab.accel import cd_cuda
from genlab.accel.rbm import TritonCD1
from genlab.accel.steps import epoch_draws
from genlab.accel.threefry import CounterStream
from genlab.models.rbm import RBM
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig

pytestmark = pytest.mark.skipif(not cd_cuda.available(), reason="needs Triton")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
needs_cuda = pytest.mark.skipif(DEVICE.type != "cuda", reason="needs a CUDA device")


def copy(rbm: RBM) -> RBM:
    return RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()}).to(DEVICE)


@pytest.mark.parametrize(
    ("visible", "hidden", "batch", "rows"),
    [(13, 5, 4, 9), (20, 70, 40, 130), (784, 100, 100, 130)],  # odd draws, short last minibatches, padded tiles
)
def test_cuda_epoch_matches_the_pytorch_steps_on_the_same_random_stream(visible, hidden, batch, rows):
    x, order, key, config, start, eager, expected = same_stream_case(visible, hidden, batch, rows)
    fast = copy(start)

    error = cd_cuda.cd1_epoch(fast.W.data, fast.v_bias.data, fast.h_bias.data, x.to(DEVICE), order.to(DEVICE),
                              key.to(DEVICE), config.lr, batch)

    assert error.device.type == DEVICE.type and error.item() == pytest.approx(expected, rel=1e-5)
    for name, t in eager.tensors().items():
        assert torch.allclose(fast.tensors()[name].cpu(), t, rtol=0, atol=1e-5), name
    assert not torch.equal(fast.W.cpu(), start.W)


def test_the_draws_are_the_counter_streams_uniforms():
    """Kernel _draws for minibatches 3 and 4: v0 ~ Bernoulli(x) and the uniforms for h0 and v1, bit for bit."""
    n, V, H, batch_size = 6, 11, 7, 6
    g = torch.Generator().manual_seed(0)
    x, order = torch.rand(40, V, generator=g), torch.randperm(40, generator=g)
    key = torch.tensor([0xDEADBEEF, 0x01234567])
    v0 = torch.empty(2 * n * V, dtype=torch.uint8, device=DEVICE)
    uv, uh = torch.empty(2 * n * V, device=DEVICE), torch.empty(2 * n * H, device=DEVICE)
    cd_cuda._draws[(2, 1, 3)](key.to(DEVICE), x.to(DEVICE), order.to(DEVICE), v0, uh, uv, 3, batch_size, n, V, H,
                               BLOCK=64)
    for slot, step in enumerate((3, 4)):
        stream = CounterStream(key, torch.tensor(step))
        rows = x[order[step * batch_size : step * batch_size + n]]
        assert torch.equal(v0.view(2, n, V)[slot].cpu(), (stream.uniform((n, V)) < rows).to(torch.uint8))
        assert torch.equal(uh.view(2, n, H)[slot].cpu(), stream.uniform((n, H)))
        assert torch.equal(uv.view(2, n, V)[slot].cpu(), stream.uniform((n, V)))


def test_what_the_cuda_kernels_support():
    W = torch.zeros(784, 100, device=DEVICE)
    assert cd_cuda.supports(torch.zeros(3, 784, device=DEVICE), W) == (DEVICE.type == "cuda")
    assert not cd_cuda.supports(torch.zeros(3, 784), torch.zeros(784, 100))  # CPU tensors: the C kernel's work
    assert not cd_cuda.supports(torch.zeros(3, 784, device=DEVICE), torch.zeros(784, cd_cuda.MAX_HIDDEN + 1,
                                                                              device=DEVICE))
    assert not cd_cuda.supports(torch.zeros(3, 784, device=DEVICE, dtype=torch.float64), W.double())


def test_bad_arguments_are_refused_before_any_kernel_runs():
    W = torch.zeros(6, 3, device=DEVICE)
    with pytest.raises(ValueError, match="x must have 6 columns"):
        cd_cuda.cd1_epoch(W, torch.zeros(6, device=DEVICE), torch.zeros(3, device=DEVICE), torch.rand(10, 7, device=DEVICE),
                          torch.arange(10, device=DEVICE), torch.tensor([1, 2], device=DEVICE), 0.1, 4)
    assert torch.equal(W, torch.zeros_like(W))


@needs_cuda
def test_compiled_cd1_on_cuda_runs_the_kernels_and_replays_them_as_a_graph(monkeypatch):
    """Four epochs through the training loop (the second captures a CUDA graph, the rest replay it) against the
    same kernels launched one by one with the same keys and orders."""
    x = torch.rand(1050, 784, generator=torch.Generator().manual_seed(0)).cuda()  # a short last minibatch
    config = RBMConfig(compile=True)
    calls = []
    kernel = cd_cuda.cd1_epoch
    monkeypatch.setattr(cd_cuda, "cd1_epoch", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    start = RBM(784, 100, 0.1, generator=torch.Generator().manual_seed(1))

    graphed, g = copy(start), torch.Generator("cuda").manual_seed(2)
    made = []
    monkeypatch.setattr("genlab.accel.rbm.TritonCD1", lambda *a: made.append(TritonCD1(*a)) or made[-1])
    errors = train_rbm.fit(graphed, x, config.replace(epochs=4), g, progress=False)
    assert len(calls) == 2 and made[0].graph.graph is not None  # epoch 1 as it is, epoch 2 captured

    plain, g = copy(start), torch.Generator("cuda").manual_seed(2)
    expected = []
    for _ in range(4):
        key, order = epoch_draws(x.shape[0], g, x.device)
        expected.append(kernel(plain.W.data, plain.v_bias.data, plain.h_bias.data, x, order, key, 0.1, 100).item()
                        / x.numel())
    assert errors == pytest.approx(expected, rel=1e-6)
    assert len(set(errors)) == 4  # each replay trained on new minibatches
    for name, t in plain.tensors().items():
        assert torch.allclose(graphed.tensors()[name], t, rtol=0, atol=1e-6), name
