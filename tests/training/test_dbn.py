"""genlab.training.dbn and genlab.training.updown: greedy training, fine-tuning, run directories and the command line."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from dbn_truth import random_dbn
from test_cli import run_cli

from genlab.cli import main
from genlab.runs import Run
from genlab.training import dbn as train_dbn
from genlab.training import rbm as train_rbm
from genlab.training.dbn import DBNConfig


def test_greedy_training_leaves_rbm_1_frozen():
    dbn = random_dbn(784, 8, 6, std=0.1).float()
    before = {k: t.clone() for k, t in dbn.tensors().items()}
    x = torch.rand(200, 784)
    train_dbn.fit_top(dbn, x, DBNConfig(epochs=2, batch_size=50), torch.Generator().manual_seed(0), progress=False)
    after = dbn.tensors()
    assert all(torch.equal(after[k], before[k]) for k in ("W1", "v_bias", "h1_bias"))
    assert all(not torch.equal(after[k], before[k]) for k in ("W2", "top_v_bias", "h2_bias"))



def test_centred_greedy_training_starts_the_top_offsets_at_the_data_means_of_h1():
    from genlab.algorithms.cd import CDState

    dbn = random_dbn(784, 8, 6, std=0.1).float()
    x = torch.rand(200, 784, generator=torch.Generator().manual_seed(1))
    state = CDState()
    cfg = DBNConfig(epochs=1, batch_size=50, centering=True)
    assert cfg.layer1().centering
    train_dbn.fit_top(dbn, x, cfg, torch.Generator().manual_seed(0), progress=False, state=state)
    assert set(state.offsets) == {"v_offset", "h_offset"}
    assert (state.offsets["v_offset"] - dbn.p_h1(x).mean(0)).abs().max() < 0.05  # 4 updates at rate 0.01


COMMON = ["--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """rbm -> dbn (--rbm) -> fine-tuned, and a 784-unit top RBM started as W1^T, trained by the command line."""
    from helpers import write_dataset

    tmp = tmp_path_factory.mktemp("dbn-runs")
    paths = {"data": write_dataset(tmp / "tiny"), **{name: tmp / name for name in ("rbm", "dbn", "wide", "ft")}}
    data = ["--dataset", str(paths["data"]), *COMMON]
    for argv in (["train", "rbm", "--out", str(paths["rbm"]), "--hidden", "10", "--epochs", "2"],
                 ["train", "dbn", "--out", str(paths["dbn"]), "--rbm", str(paths["rbm"]), "--top-hidden", "6", "--epochs", "2"],
                 ["train", "dbn", "--out", str(paths["wide"]), "--rbm", str(paths["rbm"]), "--top-hidden", "784",
                  "--top-init", "transpose", "--epochs", "1"],
                 ["train", "dbn-finetune", "--out", str(paths["ft"]), "--dbn", str(paths["dbn"]), "--epochs", "2"]):
        assert main(argv + data) == 0, argv
    return paths


def sha256(path):
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_a_stacked_run_records_its_source_and_uses_its_rbm(runs):
    meta = json.loads((runs["dbn"] / "config.json").read_text())
    assert meta["config"]["rbm"] == str(runs["rbm"].resolve()) and meta["config"]["rbm_sha256"] == sha256(runs["rbm"])
    assert meta["config"]["rbm_hidden"] == 10 and meta["layer1"]["config"]["hidden"] == 10
    assert meta["layer1"]["sha256"] == sha256(runs["rbm"]) and "train_time_s" in meta
    assert [(e["layer"], e["epoch"]) for e in Run.open(runs["dbn"]).log] == [(2, 1), (2, 2)]
    assert torch.equal(train_dbn.load(Run.open(runs["dbn"])).rbm1.W, train_rbm.load(Run.open(runs["rbm"])).W)

    meta = json.loads((runs["ft"] / "config.json").read_text())
    assert meta["config"]["lr"] == 0.01 and meta["config"]["epochs"] == 2
    assert meta["config"]["dbn_sha256"] == sha256(runs["dbn"]) and meta["source"]["config"]["rbm"] == str(runs["rbm"].resolve())
    assert {p.name for p in (runs["ft"] / "figures").iterdir()} >= {
        "recognition_weights.png", "generative_weights.png", "weights_difference.png", "reconstructions.png", "samples.png"}


def test_both_layers_in_one_command_train_the_same_rbm_1_as_train_rbm(runs, tmp_path):
    cfg = DBNConfig(dataset=str(runs["data"]), rbm_hidden=10, top_hidden=6, epochs=2)
    assert cfg.layer1() == train_rbm.RBMConfig.from_dict(Run.open(runs["rbm"]).config)
    run = train_dbn.train(cfg, tmp_path / "dbn", device="cpu", progress=False)
    dbn, rbm = train_dbn.load(Run.open(run.path)), train_rbm.load(Run.open(runs["rbm"]))
    assert torch.equal(dbn.rbm1.W, rbm.W) and torch.equal(dbn.rbm1.v_bias, rbm.v_bias)
    assert [(e["layer"], e["epoch"]) for e in run.log] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert run.meta["layer1"]["run"] is None and run.meta["layer1"]["config"] == cfg.layer1().to_dict()


@pytest.mark.parametrize("name, n_params", [
    ("dbn", 784 * 10 + 784 + 10 + 10 * 6 + 10 + 6),
    ("wide", 784 * 10 + 784 + 10 + 10 * 784 + 10 + 784),
    ("ft", 2 * 784 * 10 + 784 + 10 + 10 * 6 + 10 + 6),
])
def test_eval_reports_the_bound_and_the_other_numbers(capsys, runs, name, n_params):
    code, out, err = run_cli(capsys, "eval", str(runs[name]), *COMMON, "--samples", "0")
    results = json.loads(out)
    assert code == 0, err
    assert results["test_loglik_method"] == "bound" and results["log_z_method"] == "exact"
    assert results["test_loglik"] == results["test_loglik_bound"] < results["test_loglik_iw"] < 0
    assert results["bound_samples"] == 100 and 0 < results["bound_mc_se"] < 1
    assert 0 < results["recon_error"] < 1 and 0 <= results["probe_accuracy"] <= 1
    assert results["n_params"] == n_params


def test_sample_command_draws_images(capsys, runs, tmp_path):
    code, _, err = run_cli(capsys, "sample", str(runs["ft"]), "--n", "9", "--out", str(tmp_path / "s.png"), *COMMON[1:])
    assert code == 0, err
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "dbn-finetune"], "--dbn: required"),
        (["train", "dbn", "--rbm", "{tmp}/nothing"], "--rbm: RUN {tmp}/nothing: not a directory"),
        (["train", "dbn", "--rbm", "{dbn}"], "a dbn run, expected a rbm run"),
        (["train", "dbn", "--rbm", "{rbm}", "--rbm-sha256", "abc"], "its model has changed"),
        (["train", "dbn", "--rbm", "{rbm}", "--top-init", "transpose"], "--top-hidden: expected 784"),
        (["train", "dbn", "--rbm", "{rbm}", "--dataset", "{other}"], "not on --dataset"),
        (["train", "dbn-finetune", "--dbn", "{rbm}"], "a rbm run, expected a dbn run"),
    ],
)
def test_bad_source_runs_exit_2_with_one_line(capsys, runs, tmp_path, argv, message):
    from helpers import write_dataset

    other = write_dataset(tmp_path / "other", seed=1) if "{other}" in argv else None
    fill = {"tmp": str(tmp_path), "rbm": str(runs["rbm"]), "dbn": str(runs["dbn"]), "other": str(other)}
    argv = [a.format(**fill) for a in argv]
    data = [] if "--dataset" in argv else ["--dataset", str(runs["data"])]
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "new"), *data, *COMMON)
    assert code == 2 and message.format(**fill) in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not __import__("shutil").which("g++"), reason="torch.compile needs a C++ compiler on the CPU")
def test_compiled_top_rbm_training_matches_the_same_steps_run_eagerly_and_the_plain_loop(monkeypatch):
    from genlab.accel import steps
    from genlab.models.dbn import DBN
    from genlab.models.rbm import RBM
    from genlab.training.dbn import DBNConfig, fit_top

    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    x = torch.rand(60, 12, generator=torch.Generator().manual_seed(0))
    rbm1 = RBM(12, 8, init_std=0.5, generator=torch.Generator().manual_seed(1))
    config = DBNConfig(top_hidden=6, epochs=3, batch_size=20)
    really_compiled = steps.compiled

    def train(compiled, config=config):
        monkeypatch.setattr(steps, "compiled", compiled)
        dbn = DBN.stack(rbm1, 6, 0.3, False, torch.Generator().manual_seed(2))
        paths = {}
        errors = fit_top(dbn, x, config, torch.Generator().manual_seed(3), progress=False, paths=paths)
        assert paths == {"top rbm": "steps" if config.compile else "plain"}
        return dbn, errors

    eager, eager_errors = train(steps.with_counter_stream)  # the same steps and stream, not compiled
    plain, plain_errors = train(None, config.replace(compile=False))  # --no-compile: the same numbers drawn
    assert plain_errors == eager_errors
    for name, t in eager.tensors().items():
        assert torch.equal(plain.tensors()[name], t), name
    compiled, compiled_errors = train(really_compiled)
    for name, t in eager.tensors().items():
        assert torch.allclose(compiled.tensors()[name], t, atol=1e-4), name
    assert compiled_errors == pytest.approx(eager_errors, rel=1e-4)
    assert not torch.equal(eager.top.W, DBN.stack(rbm1, 6, 0.3, False, torch.Generator().manual_seed(2)).top.W)


@pytest.mark.parametrize("k", [1, 3])
def test_top_rbm_training_in_the_native_kernel_matches_the_plain_loop_draw_for_draw(monkeypatch, k):
    from genlab.accel import native
    from genlab.models.dbn import DBN
    from genlab.models.rbm import RBM
    from genlab.training.dbn import DBNConfig, fit_top

    if native.library() is None:
        pytest.skip("no C compiler builds genlab's native kernel here")
    x = torch.rand(130, 40, generator=torch.Generator().manual_seed(0))  # 3 minibatches, the last of 30 rows
    rbm1 = RBM(40, 24, init_std=0.5, generator=torch.Generator().manual_seed(1))
    config = DBNConfig(top_hidden=17, epochs=3, batch_size=50, cd_k=k, lr=0.2)

    def train(path):
        monkeypatch.setenv("GENLAB_FAST_PATH", path)
        dbn = DBN.stack(rbm1, 17, 0.3, False, torch.Generator().manual_seed(2))
        paths = {}
        errors = fit_top(dbn, x, config, torch.Generator().manual_seed(3), progress=False, paths=paths)
        assert paths == {"top rbm": path}
        return dbn, errors

    plain, plain_errors = train("plain")
    kernel, kernel_errors = train("kernel")
    for name, t in plain.tensors().items():  # the same draws; sums in another order
        assert torch.allclose(kernel.tensors()[name], t, rtol=0, atol=1e-5), name
    assert kernel_errors == pytest.approx(plain_errors, rel=1e-5)
    start = DBN.stack(rbm1, 17, 0.3, False, torch.Generator().manual_seed(2))
    assert (plain.top.W - start.top.W).abs().max() > 1e-2  # the epochs moved the weights well past the tolerance


def test_dbn_no_compile_reaches_rbm_1_and_both_layers_gibbs_steps_are_checked():
    from genlab.errors import ConfigError
    from genlab.training.dbn import DBNConfig

    assert DBNConfig().layer1().compile and not DBNConfig(compile=False).layer1().compile
    with pytest.raises(ConfigError, match=r"^--rbm-cd-k 200: a training step draws random numbers 401 times"):
        DBNConfig(rbm_cd_k=200)
    DBNConfig(cd_k=127)  # v, h1, h^0 and 253 more
    with pytest.raises(ConfigError, match=r"^--cd-k 128: a training step draws random numbers 258 times"):
        DBNConfig(cd_k=128)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_top_rbm_epochs_replayed_as_a_cuda_graph_match_the_compiled_steps(monkeypatch):
    from genlab.accel import steps
    from genlab.models.dbn import DBN
    from genlab.models.rbm import RBM
    from genlab.training.dbn import DBNConfig, fit_top

    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    x = torch.rand(250, 12, generator=torch.Generator().manual_seed(0)).cuda()
    config = DBNConfig(top_hidden=6, epochs=3, batch_size=20)
    made = []

    def train(cuda_graph: bool):
        monkeypatch.setattr(steps, "CompiledSteps", lambda *args: made.append(
            real(*args, cuda_graph=cuda_graph)) or made[-1])
        rbm1 = RBM(12, 8, init_std=0.5, generator=torch.Generator().manual_seed(1))
        dbn = DBN.stack(rbm1, 6, 0.3, False, torch.Generator().manual_seed(2)).cuda()
        return dbn, fit_top(dbn, x, config, torch.Generator("cuda").manual_seed(3), progress=False)

    real = steps.CompiledSteps
    graphed, graphed_errors = train(cuda_graph=True)
    assert made[-1].graph.graph is not None
    plain, plain_errors = train(cuda_graph=False)
    for name, t in plain.tensors().items():
        assert torch.allclose(graphed.tensors()[name], t, atol=2e-3), name
    assert graphed_errors == pytest.approx(plain_errors, rel=1e-3)


@pytest.mark.parametrize("fast_path", ["", "plain"])  # the counter stream computed in C, or as PyTorch operations
def test_fine_tuning_draws_minibatch_i_of_an_epoch_from_the_counter_stream_key_i(monkeypatch, fast_path):
    from genlab import accel
    from genlab.accel.threefry import CounterStream
    from genlab.algorithms.dbn import updown_minibatch
    from genlab.models.dbn import DBN, UpDownDBN
    from genlab.models.rbm import RBM
    from genlab.training.updown import FinetuneConfig, fit

    monkeypatch.setenv("GENLAB_FAST_PATH", fast_path)
    x = torch.rand(60, 12, generator=torch.Generator().manual_seed(0))
    rbm1 = RBM(12, 8, init_std=0.5, generator=torch.Generator().manual_seed(1))
    config = FinetuneConfig(epochs=2, batch_size=20, lr=0.1)

    def model():
        return UpDownDBN.from_dbn(DBN.stack(rbm1, 6, 0.3, False, torch.Generator().manual_seed(2)))

    fitted = model()
    errors = fit(fitted, x, config, torch.Generator().manual_seed(3), progress=False)
    by_hand, generator, hand_errors = model(), torch.Generator().manual_seed(3), []
    for _ in range(config.epochs):
        key, order = accel.epoch_draws(x.shape[0], generator, x.device)
        total = sum(updown_minibatch(by_hand, x[idx], config.lr, config.cd_k, CounterStream(key, torch.tensor(i)))
                    for i, idx in enumerate(order.split(config.batch_size)))
        hand_errors.append(total.item() / x.numel())
    assert errors == hand_errors
    for name, t in by_hand.tensors().items():
        assert torch.equal(fitted.tensors()[name], t), name
    assert not torch.equal(fitted.R1, model().R1)
