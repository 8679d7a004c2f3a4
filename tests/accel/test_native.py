"""genlab.accel.native: the CD-k epoch kernel against the PyTorch steps it replaces, and the RBM's door."""

from __future__ import annotations

import pytest
import torch
from rbm_truth import same_stream_case

from genlab import data
from genlab.accel import choice, native, steps
from genlab.accel.rbm import kernels_apply
from genlab.accel.steps import CompiledSteps
from genlab.accel.threefry import CounterStream
from genlab.algorithms.cd import CDState, rbm_step
from genlab.models.rbm import RBM
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig

needs_kernel = pytest.mark.skipif(native.compiler() is None, reason="no C compiler to build genlab's native kernel")


@needs_kernel
@pytest.mark.parametrize(
    ("visible", "hidden", "batch", "rows", "k"),
    # odd draws, short last minibatches, 64/16/1-wide columns; CD-1, CD-3 and CD-25 (51 draws a minibatch)
    [(13, 5, 4, 9, 1), (20, 70, 8, 30, 1), (784, 100, 100, 250, 1), (13, 5, 4, 9, 3), (20, 70, 8, 30, 3),
     (784, 100, 100, 250, 25)],
)
def test_native_epoch_matches_the_pytorch_steps_on_the_same_random_stream(visible, hidden, batch, rows, k):
    x, order, key, config, start, eager, expected = same_stream_case(visible, hidden, batch, rows, k)
    fast = RBM.from_tensors({name: t.clone() for name, t in start.tensors().items()})

    error = native.cd_epoch(fast.W.data, fast.v_bias.data, fast.h_bias.data, x, order, key, config.lr, batch, k)

    assert error == pytest.approx(expected, rel=1e-5)
    for name, t in eager.tensors().items():
        assert torch.allclose(fast.tensors()[name], t, rtol=0, atol=1e-5), name
    assert not torch.equal(fast.W, start.W)


@needs_kernel
@pytest.mark.parametrize(("visible", "hidden", "batch", "rows"), [(13, 5, 4, 9), (784, 100, 100, 250), (30, 70, 8, 30)])
def test_native_up_pass_draws_a_dbns_v_and_h1_as_the_greedy_step_does(visible, hidden, batch, rows):
    """Minibatch i of the epoch: v ~ Bernoulli(x) from draw 0 and h1 ~ Bernoulli(p(h1 | v)) from draw 1 of the
    counter stream (key, i), written out by hand; the kernel's sigmoid rounds otherwise, which flips a state only
    where a draw falls within rounding of its probability (none here)."""
    g = torch.Generator().manual_seed(4)
    x, order, key = torch.rand(rows, visible, generator=g), torch.randperm(rows, generator=g), torch.tensor([7, 8])
    rbm1 = RBM(visible, hidden, 0.3, generator=g)
    h1 = native.dbn_up(rbm1.W.data, rbm1.h_bias.data, x, order, key, batch)
    for i, idx in enumerate(order.split(batch)):
        stream = CounterStream(key, torch.tensor(i))
        v = (stream.uniform((idx.numel(), visible)) < x[idx]).float()
        expected = (stream.uniform((idx.numel(), hidden)) < torch.sigmoid(v @ rbm1.W + rbm1.h_bias)).float()
        assert torch.equal(h1[i * batch : i * batch + idx.numel()], expected), i
    assert 0.2 < h1.mean() < 0.8


@needs_kernel
def test_native_epoch_stays_finite_where_the_units_saturate_beyond_the_exp_range():
    """Pre-activations of hundreds (|x| > 88, where exp overflows in float32): a -ffast-math build's vector exp
    turned them into NaN on a CPU with AVX-512, 26 epochs into the reference run. The kernel's sigmoids must
    saturate as PyTorch's do."""
    from rbm_truth import eager_epoch

    g = torch.Generator().manual_seed(3)
    x, order, key = torch.rand(250, 784, generator=g), torch.randperm(250, generator=g), torch.tensor([5, 6])
    start = RBM(784, 100, 30.0, generator=g)  # W ~ N(0, 30^2): v W of several hundred either way
    config = RBMConfig(hidden=100, batch_size=100, lr=0.1)
    eager = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
    expected = eager_epoch(eager, x, order, key, config)
    fast = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
    error = native.cd_epoch(fast.W.data, fast.v_bias.data, fast.h_bias.data, x, order, key, config.lr, 100)
    assert all(torch.isfinite(t).all() for t in fast.tensors().values()) and error == pytest.approx(expected, rel=1e-4)
    for name, t in eager.tensors().items():
        assert torch.allclose(fast.tensors()[name], t, rtol=0, atol=1e-4), name


@needs_kernel
def test_native_epoch_gives_the_same_bits_on_any_number_of_threads():
    g = torch.Generator().manual_seed(0)
    x, order, key = torch.rand(500, 784, generator=g), torch.randperm(500, generator=g), torch.tensor([1, 2])
    start = RBM(784, 100, 0.1, generator=g)
    threads = torch.get_num_threads()
    results, errors = [], []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            rbm = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
            errors.append(native.cd_epoch(rbm.W.data, rbm.v_bias.data, rbm.h_bias.data, x, order, key, 0.1, 100))
            results.append(rbm.tensors())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(r[name], results[0][name]) for r in results[1:] for name in results[0])
    assert len(set(errors)) == 1


@needs_kernel
@pytest.mark.parametrize("narrower", ["-mno-avx512f", "-mno-avx"], ids=["avx2", "sse"])
def test_a_build_for_narrower_vectors_trains_the_same(tmp_path, narrower):
    """The builds for processors without AVX-512 (8 floats a vector with AVX2) or without AVX (4, as
    NEON) sample the same states: an epoch ends with the same weights and error up to the rounding
    of the sigmoids' vector code. Layers of 783 x 99 units leave every build a partial last vector."""
    flags = (*native.FLAGS, "-fopenmp", narrower)
    if not native.build(native.compiler(), flags, tmp_path / "portable.so"):
        pytest.skip(f"the C compiler cannot build with {narrower}")
    portable = native.load(tmp_path / "portable.so")
    g = torch.Generator().manual_seed(1)
    x, order = torch.rand(300, 783, generator=g), torch.randperm(300, generator=g)
    start = RBM(783, 99, 0.1, generator=g)
    default = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
    error = native.cd_epoch(default.W.data, default.v_bias.data, default.h_bias.data, x, order,
                             torch.tensor([3, 4]), 0.1, 100)
    W, v_bias, h_bias = (t.clone() for t in (start.W.data, start.v_bias.data, start.h_bias.data))
    portable_error = portable.genlab_cd_epoch(x.data_ptr(), order.data_ptr(), 300, 783, 99, 100, 1, W.data_ptr(),
                                               v_bias.data_ptr(), h_bias.data_ptr(), 0.1, 3, 4, 0, torch.get_num_threads())
    assert portable_error == pytest.approx(error, rel=1e-6)
    for name, t in (("W", W), ("v_bias", v_bias), ("h_bias", h_bias)):
        assert torch.allclose(t, getattr(default, name), rtol=0, atol=1e-6), name
    assert not torch.equal(W, start.W)


@needs_kernel
def test_cd1_on_the_cpu_runs_in_the_native_kernel_by_default_and_learns_as_the_pytorch_steps(mnist_dir, monkeypatch):
    """One epoch on 2,000 MNIST digits: the kernel against the same steps (run eagerly) and the plain loop
    (--no-compile), from one seed: the same random numbers on every path."""
    x = data.as_float(data.load_split(data.resolve("mnist", mnist_dir), "train", torch.device("cpu"), limit=2000).images)
    config = RBMConfig(epochs=1)
    calls = []
    kernel = native.cd_epoch
    monkeypatch.setattr(native, "cd_epoch", lambda *a, **k: calls.append(1) or kernel(*a, **k))

    def train(runner) -> tuple[RBM, float]:
        rbm = RBM(784, 100, 0.1, generator=torch.Generator().manual_seed(0))
        error = train_rbm.fit(rbm, x, config, torch.Generator().manual_seed(1), progress=False)[0] if runner is None \
            else runner(rbm)(torch.Generator().manual_seed(1)).item() / x.numel()
        return rbm, error

    fast, fast_error = train(None)
    assert calls == [1]
    monkeypatch.setattr(steps, "compiled", steps.with_counter_stream)  # the compiled step's arithmetic, run eagerly
    by_steps, steps_error = train(lambda rbm: CompiledSteps(rbm_step, rbm, x, config.batch_size, config.cd(), True, CDState()))
    assert calls == [1]
    config = config.replace(compile=False)
    plain, plain_error = train(None)
    assert calls == [1]
    assert torch.equal(plain.W, by_steps.W) and plain_error == steps_error  # the same operations, the same bits
    assert fast_error == pytest.approx(steps_error, rel=1e-3)
    # the same samples but where rounding flips one (rarely): the weights agree to a few such updates
    assert torch.allclose(fast.W, by_steps.W, rtol=0, atol=5e-3)
    assert (fast.W - by_steps.W).abs().mean() < 1e-5


@needs_kernel
@pytest.mark.parametrize(
    ("change", "message"),
    [({"order": torch.tensor([0, 10])}, "order must be .* in \\[0, 10\\)"), ({"order": torch.tensor([-1])}, "order"),
     ({"x": torch.rand(10, 7)}, "x must have 6 columns"), ({"h_bias": torch.zeros(4)}, "h_bias must have shapes"),
     ({"batch_size": 0}, "batch_size must be in \\[1, 32767\\]"), ({"batch_size": 40_000}, "batch_size must be in"),
     ({"key": torch.tensor([1])}, "key must hold two")],
)
def test_arguments_the_kernel_cannot_check_are_refused_before_it_runs(change, message):
    W = torch.zeros(6, 3)
    args = {"W": W, "v_bias": torch.zeros(6), "h_bias": torch.zeros(3), "x": torch.rand(10, 6),
            "order": torch.arange(10), "key": torch.tensor([1, 2]), "lr": 0.1, "batch_size": 4, **change}
    with pytest.raises(ValueError, match=message):
        native.cd_epoch(**args)
    assert torch.equal(W, torch.zeros(6, 3))


@pytest.mark.parametrize(
    "options", [{"compile": False}, {"persistent": True}, {"momentum": 0.5}, {"weight_decay": 1e-4},
                {"binarize": False}, {"batch_size": 40_000}, {"centering": True}, {"temperatures": 2}],
)
def test_other_configs_run_the_pytorch_steps(options):
    def applies(config: RBMConfig) -> bool:
        if not config.compile:
            return False
        return kernels_apply(config.cd(), config.binarize, config.batch_size)

    assert applies(RBMConfig(compile=True)) and applies(RBMConfig(cd_k=25))
    assert not applies(RBMConfig(**{"compile": True, **options}))


def test_without_a_working_compiler_the_kernel_is_not_built_and_training_uses_the_pytorch_steps(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    native.library.cache_clear()
    try:
        with pytest.warns(UserWarning, match="could not build its native CPU kernel with false"):
            assert native.library() is None
        assert not native.supports(torch.zeros(2, 3), torch.zeros(3, 2))
        assert not list(tmp_path.rglob("*.so"))  # nothing half-written left behind
    finally:
        native.library.cache_clear()


def draws_in_c(monkeypatch) -> list[str]:
    """A list that grows by one name each time a draw is computed in C (as uniforms or as Bernoulli states)."""
    calls: list[str] = []
    for name in ("counter_uniform", "counter_bernoulli"):
        real = getattr(native, name)
        monkeypatch.setattr(native, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    return calls


@needs_kernel
def test_bernoulli_states_drawn_in_c_are_the_python_stream_s_uniforms_below_p():
    """In one pass in C, u < p for the draw's uniforms u, bit for bit; p of exactly 0 and 1 (never and always),
    a draw's odd size, and a sequence's draws in turn, as uniforms then comparisons."""
    from genlab.accel.threefry import CounterSequence
    from genlab.rng import bernoulli

    key = torch.tensor([0x12345678, 0xFEDCBA98])
    p = torch.rand(37, 29, generator=torch.Generator().manual_seed(0))
    p[0], p[1] = 0.0, 1.0
    native_stream, python_stream = native.NativeCounterStream(key, 3), CounterStream(key, torch.tensor(3))
    for _ in range(3):
        states = bernoulli(p, native_stream)
        assert torch.equal(states, (python_stream.uniform(p.shape) < p).float())
        assert states[0].sum() == 0 and states[1].sum() == p.shape[1] and states.dtype == torch.float32
    assert native_stream.draws == 3
    in_c = CounterSequence(lambda step: native.NativeCounterStream(key, step))
    in_python = CounterSequence(lambda step: CounterStream(key, torch.tensor(step)))
    for _ in range(CounterStream.DRAWS_PER_STEP + 3):
        assert torch.equal(bernoulli(p, in_c), (in_python.uniform(p.shape) < p).float())
    assert in_c.step == 1 and torch.equal(bernoulli(p.double(), in_c), bernoulli(p.double(), in_python))


@needs_kernel
def test_the_counter_stream_computed_in_c_draws_the_python_stream_s_numbers_bit_for_bit():
    key = torch.tensor([0x12345678, 0xFEDCBA98])
    native_stream, python_stream = native.NativeCounterStream(key, 7), CounterStream(key, torch.tensor(7))
    for shape in [(3, 5), (1, 1), (100, 784), (33,)]:  # odd sizes end on a half-used counter
        assert torch.equal(native_stream.uniform(shape), python_stream.uniform(shape))
    assert native_stream.draws == 4


@needs_kernel
def test_a_centred_rbm_s_plain_loop_draws_in_c_the_bits_of_the_pytorch_stream(monkeypatch):
    """Centring runs on the plain loop only; its draws are computed in C, with --no-compile too, and give the
    numbers of the stream as PyTorch operations (GENLAB_FAST_PATH=plain)."""
    x = torch.rand(120, 36, generator=torch.Generator().manual_seed(0))
    in_c = draws_in_c(monkeypatch)
    ends = []
    for compile, fast_path in ((True, "kernel,plain"), (False, "kernel,plain"), (True, "plain")):
        monkeypatch.setenv(choice.ENV, fast_path)
        rbm = RBM(36, 8, 0.1, generator=torch.Generator().manual_seed(1))
        paths = {}
        train_rbm.fit(rbm, x, RBMConfig(hidden=8, epochs=2, batch_size=50, centering=True, persistent=True,
                                        compile=compile), torch.Generator().manual_seed(2), progress=False,
                      paths=paths)
        assert paths == {"rbm": "plain"}
        ends.append(rbm.W)
    assert len(in_c) == 2 * (2 * 3 * 4)  # 2 epochs x 3 minibatches x 4 draws, in C twice (not with plain alone)
    assert torch.equal(ends[0], ends[1]) and torch.equal(ends[1], ends[2])


@needs_kernel
def test_an_estimator_draws_in_c_on_the_cpu_the_numbers_of_the_pytorch_stream(monkeypatch):
    """AIS and the sampling chains take their draws from accel.estimator_draws: on the CPU a counter stream
    computed in C, the same numbers as PyTorch operations (GENLAB_FAST_PATH=plain); so the same log Z."""
    from genlab.accel import estimator_draws
    from genlab.accel.threefry import CounterSequence
    from genlab.evaluation.ais import ais_log_z

    rbm = RBM(30, 12, 0.5, generator=torch.Generator().manual_seed(3))
    in_c = draws_in_c(monkeypatch)
    estimates, samples = [], []
    for fast_path in ("kernel,plain", "plain"):
        monkeypatch.setenv(choice.ENV, fast_path)
        assert isinstance(estimator_draws(torch.Generator().manual_seed(0)), CounterSequence)
        estimates.append(ais_log_z(rbm, runs=20, betas=300, generator=torch.Generator().manual_seed(0)).log_z)
        samples.append(rbm.sample(7, estimator_draws(torch.Generator().manual_seed(1)), steps=5))
    assert len(in_c) > 600  # the draws of the first pass were computed in C, two per distribution
    assert estimates[0] == estimates[1] and torch.equal(samples[0], samples[1])
