"""genlab.training.rbm: runs, reproducibility, the training loop and its options."""

from __future__ import annotations

import json

import pytest
import torch

from rbm_truth import bars_and_stripes, exact_mean_loglik

from genlab.models.rbm import RBM
from genlab.runs import Run
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig, fit


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


# ----------------------------------------------------------------------------- the loop against the exact likelihood


def test_a_few_epochs_of_cd_raise_the_exact_log_likelihood():
    x = bars_and_stripes().repeat(20, 1)
    rbm = RBM(9, 8, init_std=0.1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = exact_mean_loglik(rbm.W, rbm.v_bias, rbm.h_bias, x).item()
    config = RBMConfig(hidden=8, epochs=10, batch_size=10, lr=1.0)
    fit(rbm, x, config, torch.Generator().manual_seed(1), progress=False)
    after = exact_mean_loglik(rbm.W, rbm.v_bias, rbm.h_bias, x).item()
    # before: ~ -9 log 2 = -6.2 nats (independent pixels); the 14 patterns are at best -log 14 = -2.64
    assert after > before + 1.5 and after < -2.63


# ----------------------------------------------------------------------------- --eval-every


@pytest.fixture
def no_figures(monkeypatch):
    """Skip the run's figures (tested above), which cost more than these tiny trainings."""
    monkeypatch.setattr(train_rbm, "standard_figures", lambda *args, **kwargs: [])


def test_eval_every_logs_the_exact_log_likelihood_without_changing_training(tiny_dataset, tmp_path, no_figures):
    from genlab.evaluation.config import EvalConfig
    from genlab.families import evaluate

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
    from genlab.evaluation import rbm as evaluate_rbm

    run = train_rbm.train(small_config(dataset=str(tiny_dataset), hidden=21, epochs=1, eval_every=1),
                          tmp_path / "run", device="cpu", progress=False)
    entry = run.log[-1]
    assert entry["test_loglik_method"] == "ais"
    assert (entry["ais_runs"], entry["ais_betas"]) == (evaluate_rbm.TRAINING_AIS_RUNS, evaluate_rbm.TRAINING_AIS_BETAS)
    assert entry["test_loglik_low"] <= entry["test_loglik"] <= (entry["test_loglik_high"] or entry["test_loglik"])


# ----------------------------------------------------------------------------- paths and the counter stream


def test_an_update_drawing_more_often_than_a_step_of_the_counter_stream_holds_is_a_config_error():
    """CD-k draws v^0, h^0 and 2k - 1 more times (PCD once more); tempering 2k at each temperature and the swaps."""
    from genlab.accel.threefry import CounterStream
    from genlab.algorithms.cd import draws_per_update
    from genlab.errors import ConfigError

    assert CounterStream.DRAWS_PER_STEP == 256
    with pytest.raises(ConfigError, match=r"^--cd-k 128: a training step draws random numbers 257 times, more than "
                                          r"the 256 a step of genlab's counter stream holds; choose a smaller --cd-k$"):
        RBMConfig(cd_k=128)
    RBMConfig(cd_k=127, persistent=True)  # 1 + 1 + 1 + 253 = 256
    with pytest.raises(ConfigError, match=r"^--cd-k 128: .* 257 times"):
        RBMConfig(cd_k=128, compile=False)  # every path draws from the stream
    RBMConfig(cd_k=128, binarize=False)
    with pytest.raises(ConfigError, match=r"^--cd-k 5 at 30 temperatures: .* fewer --temperatures$"):
        RBMConfig(cd_k=5, temperatures=30)
    assert draws_per_update(RBMConfig(cd_k=3, temperatures=4).cd()) == 1 + 4 * 6 + 3


@pytest.mark.parametrize("options", [{"centering": True}, {"temperatures": 3}, {"compile": False}])
def test_updates_only_the_plain_loop_does_run_there_by_default_and_config_json_says_so(options, tiny_dataset, tmp_path,
                                                                                       no_figures):
    run = train_rbm.train(small_config(dataset=str(tiny_dataset), hidden=8, **options), tmp_path / "run", device="cpu",
                          progress=False)
    assert Run.open(run.path).meta["path"] == "plain"


def test_cd1_takes_genlab_s_kernel_by_default_and_config_json_says_so(tiny_dataset, tmp_path, no_figures):
    from genlab.accel import native

    if native.library() is None:
        pytest.skip("no C compiler for the native kernel")
    run = train_rbm.train(small_config(dataset=str(tiny_dataset), hidden=8), tmp_path / "run", device="cpu",
                          progress=False)
    assert Run.open(run.path).meta["path"] == "kernel"


def test_a_centred_run_is_saved_as_a_plain_rbm_with_its_offsets_beside_it(tiny_dataset, tmp_path, no_figures):
    from genlab.data import as_float, load_split, resolve
    from genlab.files import load_tensors

    cfg = small_config(dataset=str(tiny_dataset), hidden=8, centering=True, offset_rate=0.05)
    run = train_rbm.train(cfg, tmp_path / "run", device="cpu", progress=False)
    assert set(load_tensors(run.path / "model.safetensors")) == {"W", "v_bias", "h_bias"}  # a plain RBM
    offsets = load_tensors(run.path / "offsets.safetensors")
    pixels = as_float(load_split(resolve(str(tiny_dataset)), "train", "cpu").images).mean(0)
    assert (offsets["v_offset"] - pixels).abs().max() < 0.1  # sliding means of the data's minibatches
    assert ((offsets["h_offset"] > 0) & (offsets["h_offset"] < 1)).all()
    saved = train_rbm.load(run).save(tmp_path / "copy")  # a copy of the plain RBM reads as a run
    assert torch.equal(train_rbm.load(Run.open(saved)).W, train_rbm.load(run).W)


def test_parallel_tempering_is_persistent_cd_with_chains_per_temperature(tiny_dataset, tmp_path, no_figures):
    cfg = small_config(dataset=str(tiny_dataset), hidden=8, temperatures=4)
    assert cfg.cd().persistent and cfg.cd().temperatures == 4
    state = train_rbm.CDState()
    rbm = RBM(36, 8, generator=torch.Generator().manual_seed(0))
    fit(rbm, torch.rand(100, 36, generator=torch.Generator().manual_seed(1)), cfg, torch.Generator().manual_seed(2),
        progress=False, state=state)
    assert state.chain.shape == (4, 50, 36)

