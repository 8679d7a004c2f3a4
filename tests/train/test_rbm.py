"""genlab.train.rbm: runs, reproducibility and the CD update."""

from __future__ import annotations

import json

import pytest
import torch

from genlab.models.rbm import RBM
from genlab.runs import Run
from genlab.train import common
from genlab.train import rbm as train_rbm
from genlab.train.rbm import RBMConfig


def small_config(**kw) -> RBMConfig:
    return RBMConfig(**{"dataset": "", "hidden": 16, "epochs": 2, "batch_size": 50, **kw})


def test_training_writes_a_complete_run_directory(tiny_dataset, tmp_path):
    run = train_rbm.train(small_config(dataset=str(tiny_dataset)), tmp_path / "run", device="cpu", progress=False)
    meta = json.loads((run.path / "config.json").read_text())
    assert meta["family"] == "rbm" and meta["config"]["hidden"] == 16 and meta["config"]["seed"] == 0
    assert meta["data"]["train_images"] == 300 and len(meta["data"]["sha256"]) == 4
    assert {"genlab", "torch"} <= set(meta["versions"])
    log = [json.loads(line) for line in (run.path / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and all(e["recon_error"] > 0 for e in log)
    assert {p.name for p in (run.path / "figures").iterdir()} >= {"weights.png", "reconstructions.png", "samples.png"}
    model = train_rbm.load(Run.open(run.path))
    assert model.W.shape == (784, 16)


def test_same_seed_gives_bit_identical_weights_on_the_cpu(tiny_dataset, tmp_path):
    cfg = small_config(dataset=str(tiny_dataset))
    a = train_rbm.load(train_rbm.train(cfg, tmp_path / "a", device="cpu", progress=False))
    b = train_rbm.load(train_rbm.train(cfg, tmp_path / "b", device="cpu", progress=False))
    c = train_rbm.load(train_rbm.train(cfg.replace(seed=1), tmp_path / "c", device="cpu", progress=False))
    assert all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))
    assert not torch.equal(a.W, c.W)


def test_cd1_update_matches_the_spec_formula():
    """dW = lr (v0^T p(h|v0) - v1^T p(h|v1)) / N etc., with the chain's own samples replayed."""
    rbm = RBM(6, 4, init_std=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = {k: v.clone() for k, v in rbm.tensors().items()}
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    train_rbm.cd_step(rbm, v0, k=1, lr=0.1, generator=torch.Generator().manual_seed(2))
    # replay the same random draws: u < p for h0, then for v1
    g = torch.Generator().manual_seed(2)
    old = RBM.from_tensors(before)
    ph0 = old.p_h(v0)
    h0 = (torch.rand(ph0.shape, generator=g, dtype=torch.float64) < ph0).double()
    pv1 = old.p_v(h0)
    v1 = (torch.rand(pv1.shape, generator=g, dtype=torch.float64) < pv1).double()
    ph1 = old.p_h(v1)
    assert torch.allclose(rbm.W - before["W"], 0.1 * (v0.T @ ph0 - v1.T @ ph1) / 8)
    assert torch.allclose(rbm.v_bias - before["v_bias"], 0.1 * (v0 - v1).mean(0))
    assert torch.allclose(rbm.h_bias - before["h_bias"], 0.1 * (ph0 - ph1).mean(0))


# ----------------------------------------------------------------------------- CD against the exact gradient

from genlab.evaluate import loglik  # noqa: E402
from genlab.train.rbm import CDState, cd_step, fit  # noqa: E402


def random_rbm(n_visible, n_hidden, seed=0, std=0.5) -> RBM:
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=std, generator=g, dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 0.5, generator=g)
    rbm.h_bias.data.normal_(0, 0.5, generator=g)
    return rbm


def exact_mean_loglik(W, a, b, v):
    """Mean log p(v) by enumerating all visible states (autograd-friendly)."""
    def neg_free_energy(x):
        return x @ a + torch.nn.functional.softplus(x @ W + b).sum(-1)

    states = loglik.all_states(W.shape[0])
    return neg_free_energy(v).mean() - torch.logsumexp(neg_free_energy(states), 0)


def update_of(rbm: RBM, step) -> torch.Tensor:
    """The parameter change made by step(rbm) on a copy, flattened as (W, v_bias, h_bias)."""
    copy = RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()})
    step(copy)
    return torch.cat([(copy.tensors()[k] - rbm.tensors()[k]).flatten() for k in ("W", "v_bias", "h_bias")])


def test_cd_with_large_k_points_along_the_exact_log_likelihood_gradient():
    rbm = random_rbm(8, 4)
    data = torch.bernoulli(torch.full((20, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    params = [t.clone().requires_grad_() for t in (rbm.W, rbm.v_bias, rbm.h_bias)]
    exact = torch.cat([g.flatten() for g in torch.autograd.grad(exact_mean_loglik(*params, data), params)])
    batch = data.repeat(1000, 1)  # many chains per data vector: little sampling noise
    cd = update_of(rbm, lambda r: cd_step(r, batch, k=50, lr=1.0, generator=torch.Generator().manual_seed(2)))
    cosine = torch.nn.functional.cosine_similarity(cd, exact, dim=0).item()
    assert cosine > 0.95
    assert cd.norm() == pytest.approx(exact.norm().item(), rel=0.1)


def bars_and_stripes(n: int = 3) -> torch.Tensor:
    """All n x n images with every row, or every column, either on or off (14 for n = 3)."""
    rows = loglik.all_states(n)
    bars = rows[:, :, None].expand(-1, n, n).reshape(-1, n * n)
    stripes = rows[:, None, :].expand(-1, n, n).reshape(-1, n * n)
    return torch.cat([bars, stripes]).unique(dim=0).double()


def test_a_few_epochs_of_cd_raise_the_exact_log_likelihood():
    x = bars_and_stripes().repeat(20, 1)
    rbm = RBM(9, 8, init_std=0.1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = exact_mean_loglik(rbm.W, rbm.v_bias, rbm.h_bias, x).item()
    config = RBMConfig(hidden=8, epochs=10, batch_size=10, lr=1.0)
    fit(rbm, x, config, torch.Generator().manual_seed(1), progress=False)
    after = exact_mean_loglik(rbm.W, rbm.v_bias, rbm.h_bias, x).item()
    # before: ~ -9 log 2 = -6.2 nats (independent pixels); the 14 patterns are at best -log 14 = -2.64
    assert after > before + 1.5 and after < -2.63


# ----------------------------------------------------------------------------- PCD, momentum, weight decay


def replay_bernoulli(p: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).to(p.dtype)


def test_persistent_cd_continues_its_chains_across_minibatches():
    rbm = random_rbm(6, 4)
    batches = [torch.bernoulli(torch.full((8, 6), q, dtype=torch.float64), generator=torch.Generator().manual_seed(i))
               for i, q in enumerate((0.3, 0.7))]
    state = CDState()
    chain = batches[0]  # the chains start at the first minibatch
    for i, v0 in enumerate(batches):
        old = RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()})
        cd_step(rbm, v0, k=1, lr=0.1, generator=torch.Generator().manual_seed(10 + i), state=state, persistent=True)
        g = torch.Generator().manual_seed(10 + i)
        ph0 = old.p_h(v0)
        replay_bernoulli(ph0, g)  # h0, for the reconstruction
        h = replay_bernoulli(old.p_h(chain), g)
        chain = replay_bernoulli(old.p_v(h), g)
        assert torch.equal(state.chain, chain)
        assert torch.allclose(rbm.W - old.W, 0.1 * (v0.T @ ph0 - chain.T @ old.p_h(chain)) / 8)
    # a shorter last minibatch continues the first chains and keeps the others
    kept = state.chain[3:].clone()
    cd_step(rbm, batches[0][:3], k=1, lr=0.1, generator=torch.Generator().manual_seed(5), state=state, persistent=True)
    assert state.chain.shape == (8, 6) and torch.equal(state.chain[3:], kept)


def test_momentum_adds_the_previous_update_scaled_by_momentum():
    rbm = random_rbm(6, 4)
    v = [torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(i)) for i in range(2)]

    def plain(i):
        return lambda r: cd_step(r, v[i], k=1, lr=0.1, generator=torch.Generator().manual_seed(20 + i))

    state = CDState()
    first = update_of(rbm, plain(0))
    with_momentum = lambda i: lambda r: cd_step(  # noqa: E731
        r, v[i], k=1, lr=0.1, generator=torch.Generator().manual_seed(20 + i), state=state, momentum=0.9)
    assert torch.allclose(update_of(rbm, with_momentum(0)), first)
    cd_step(rbm, v[0], k=1, lr=0.1, generator=torch.Generator().manual_seed(20), momentum=0.0)  # rbm is now after step 1
    second = update_of(rbm, plain(1))
    assert torch.allclose(update_of(rbm, with_momentum(1)), second + 0.9 * first)


def test_weight_decay_shrinks_the_weights_only():
    rbm = random_rbm(6, 4)
    v0 = torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    plain = update_of(rbm, lambda r: cd_step(r, v0, 1, 0.1, torch.Generator().manual_seed(1)))
    decayed = update_of(rbm, lambda r: cd_step(r, v0, 1, 0.1, torch.Generator().manual_seed(1), weight_decay=0.01))
    n_w = rbm.W.numel()
    assert torch.allclose(decayed[:n_w] - plain[:n_w], -0.1 * 0.01 * rbm.W.flatten())
    assert torch.equal(decayed[n_w:], plain[n_w:])


# ----------------------------------------------------------------------------- --eval-every


@pytest.fixture
def no_figures(monkeypatch):
    """Skip the run's figures (tested above), which cost more than these tiny trainings."""
    monkeypatch.setattr("genlab.lab.rbm.standard_figures", lambda *args, **kwargs: [])


def test_eval_every_logs_the_exact_log_likelihood_without_changing_training(tiny_dataset, tmp_path, no_figures):
    from genlab.evaluate.run import EvalConfig, evaluate

    cfg = small_config(dataset=str(tiny_dataset), hidden=8, epochs=3)
    with_eval = train_rbm.train(cfg.replace(eval_every=2), tmp_path / "a", device="cpu", progress=False)
    plain = train_rbm.train(cfg, tmp_path / "b", device="cpu", progress=False)
    assert [("test_loglik" in e) for e in with_eval.log] == [False, True, True]  # every 2nd epoch and the last
    last = with_eval.log[-1]
    assert last["test_loglik_method"] == "exact" and last["train_loglik"] < 0
    final = evaluate(with_eval, EvalConfig(samples=0), device="cpu", progress=False)
    assert last["test_loglik"] == pytest.approx(final["test_loglik"], abs=1e-6)
    a, b = train_rbm.load(with_eval), train_rbm.load(plain)
    assert all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))


def test_eval_every_uses_the_cheap_ais_above_20_hidden_units(tiny_dataset, tmp_path, no_figures):
    from genlab.evaluate import rbm as evaluate_rbm

    run = train_rbm.train(small_config(dataset=str(tiny_dataset), hidden=21, epochs=1, eval_every=1),
                          tmp_path / "run", device="cpu", progress=False)
    entry = run.log[-1]
    assert entry["test_loglik_method"] == "ais"
    assert (entry["ais_runs"], entry["ais_betas"]) == (evaluate_rbm.TRAINING_AIS_RUNS, evaluate_rbm.TRAINING_AIS_BETAS)
    assert entry["test_loglik_low"] <= entry["test_loglik"] <= (entry["test_loglik_high"] or entry["test_loglik"])


# ----------------------------------------------------------------------------- the compiled step


needs_compiler = pytest.mark.skipif(
    not __import__("shutil").which("g++"), reason="torch.compile needs a C++ compiler on the CPU"
)


@needs_compiler
def test_compiled_training_matches_the_same_steps_run_eagerly_and_learns(monkeypatch):
    """CD-1 with momentum and weight decay, compiled against eager on one stream."""
    x = bars_and_stripes().float().repeat(20, 1)
    config = RBMConfig(hidden=8, epochs=10, batch_size=10, lr=1.0, momentum=0.5,
                       weight_decay=1e-4, compile=True)
    start = RBM(9, 8, init_std=0.1, generator=torch.Generator().manual_seed(0))

    def train(compiled) -> tuple[RBM, list[float]]:
        monkeypatch.setattr(common, "compiled", compiled)
        rbm = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
        return rbm, fit(rbm, x, config, torch.Generator().manual_seed(1), progress=False)

    really_compiled = common.compiled
    eager, eager_errors = train(common.counter_step)  # the same steps and stream, not compiled
    compiled, compiled_errors = train(really_compiled)
    for name, t in eager.tensors().items():
        assert torch.allclose(compiled.tensors()[name], t, atol=2e-3), name
    assert compiled_errors == pytest.approx(eager_errors, rel=1e-3)

    def loglik(rbm: RBM) -> float:
        return exact_mean_loglik(rbm.W.double(), rbm.v_bias.double(), rbm.h_bias.double(), x.double()).item()

    assert loglik(compiled) > loglik(start) + 1.5


def test_compile_with_more_gibbs_steps_than_the_counter_stream_holds_is_a_config_error():
    from genlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^--cd-k 200: with --compile at most 127"):
        RBMConfig(cd_k=200, compile=True)
    RBMConfig(cd_k=127, compile=True)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


@needs_cuda
@pytest.mark.parametrize("options", [{}, {"momentum": 0.5, "weight_decay": 1e-4, "persistent": True}])
def test_cuda_graph_epochs_match_the_compiled_steps_run_one_by_one(options):
    """Epochs 2 to 4 replay one captured graph: same weights and errors as launching each step."""
    from genlab.train.rbm import minibatch_step, train_epoch

    x = torch.rand(1050, 784, generator=torch.Generator().manual_seed(0)).cuda()  # a short last minibatch
    config = RBMConfig(compile=True, **options)

    def train(cuda_graph: bool) -> tuple[RBM, list[float], common.MinibatchEpochs]:
        g = torch.Generator("cuda").manual_seed(1)
        rbm = RBM(784, 100, 0.1, generator=g, device="cuda")
        epochs, state = common.MinibatchEpochs(minibatch_step, True, cuda_graph=cuda_graph), CDState()
        return rbm, [train_epoch(rbm, x, config, g, state, epochs) for _ in range(4)], epochs

    graphed, graphed_errors, runner = train(cuda_graph=True)
    assert runner.graphed.graph is not None
    plain, plain_errors, _ = train(cuda_graph=False)
    for name, t in plain.tensors().items():
        assert torch.allclose(graphed.tensors()[name], t, rtol=0, atol=2e-3), name  # as the CPU test: a rare flipped sample
    assert graphed_errors == pytest.approx(plain_errors, rel=1e-3)
    assert len(set(graphed_errors)) == 4  # each replay trained on new minibatches
