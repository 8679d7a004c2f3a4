"""genlab.training.dcgan: the D/G step ratio, NaN handling, reproducibility and the run directory."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genlab.errors import GenlabError
from genlab.models.dcgan import DCGAN
from genlab.runs import Run
from genlab.training import dcgan as train_dcgan
from genlab.training.dcgan import DCGANConfig


def small_config(dataset, **kw) -> DCGANConfig:
    return DCGANConfig(**{"dataset": str(dataset), "limit": 16, "batch_size": 8, "epochs": 1, **kw})


def test_real_images_are_scaled_to_minus_one_one():
    images = torch.tensor([[[0, 255], [51, 204]]], dtype=torch.uint8)
    x = train_dcgan.real_batch(images, torch.tensor([0]), torch.contiguous_format)
    assert x.shape == (1, 1, 2, 2) and torch.allclose(x.flatten(), torch.tensor([-1.0, 1.0, -0.6, 0.6]))


@pytest.mark.parametrize("d_steps, g_steps, d_updates, g_updates", [(1, 1, 3, 3), (2, 1, 3, 2), (1, 2, 3, 6)])
def test_iterations_take_d_steps_then_g_steps_minibatches(monkeypatch, d_steps, g_steps, d_updates, g_updates):
    """3 real minibatches per epoch; an iteration is d_steps discriminator and g_steps generator updates."""
    gan = DCGAN(generator=torch.Generator().manual_seed(0))
    d_params = {id(p) for p in gan.D.parameters()}
    order = []
    adam_step = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        order.append("D" if id(self.param_groups[0]["params"][0]) in d_params else "G")
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counting_step)
    images = torch.randint(0, 256, (24, 64, 64), dtype=torch.uint8)
    config = DCGANConfig(batch_size=8, epochs=1, d_steps=d_steps, g_steps=g_steps)
    history = train_dcgan.fit(gan, images, config, torch.Generator().manual_seed(0), progress=False)
    assert order.count("D") == d_updates and order.count("G") == g_updates
    pattern = (["D"] * d_steps + ["G"] * g_steps) * 3
    assert order == [s for i, s in enumerate(pattern) if s == "G" or pattern[: i + 1].count("D") <= 3][: len(order)]
    assert history[0]["d_updates"] == d_updates and history[0]["g_updates"] == g_updates


def test_training_writes_a_complete_run_directory(tiny_dataset, tmp_path):
    run = train_dcgan.train(small_config(tiny_dataset, epochs=2), tmp_path / "run", device="cpu", progress=False)
    meta = json.loads((run.path / "config.json").read_text())
    assert meta["family"] == "dcgan" and meta["config"]["d_steps"] == 1 and "train_time_s" in meta
    log = [json.loads(line) for line in (run.path / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2]
    assert all(0 < e["d_real"] < 1 and 0 < e["d_fake"] < 1 and e["d_loss"] > 0 and e["g_loss"] > 0 for e in log)
    figures = {p.name for p in run.figures.iterdir()}
    assert {"samples.png", "samples_epoch_001.png", "samples_epoch_002.png", "losses.png", "d_outputs.png"} <= figures
    gan = train_dcgan.load(Run.open(run.path))
    images = gan.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, 1, 64, 64) and 0 <= images.min() and images.max() <= 1


def test_same_seed_gives_bit_identical_weights_on_the_cpu(tiny_dataset, tmp_path):
    cfg = small_config(tiny_dataset)
    a = train_dcgan.load(train_dcgan.train(cfg, tmp_path / "a", device="cpu", progress=False))
    b = train_dcgan.load(train_dcgan.train(cfg, tmp_path / "b", device="cpu", progress=False))
    c = train_dcgan.load(train_dcgan.train(cfg.replace(seed=1), tmp_path / "c", device="cpu", progress=False))
    assert all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))
    assert not torch.equal(a.G.blocks[0][0].weight, c.G.blocks[0][0].weight)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    calls = []
    d_step = train_dcgan.d_step

    def poisoning_d_step(gan, *args):
        calls.append(1)
        if len(calls) == 3:  # the first step of epoch 2 (2 minibatches per epoch)
            gan.G.blocks[1][0].weight.data.fill_(float("nan"))
        return d_step(gan, *args)

    monkeypatch.setattr(train_dcgan, "d_step", poisoning_d_step)
    with pytest.raises(GenlabError, match=r"loss is nan in epoch 2; training stopped .*keeps epoch 1"):
        train_dcgan.train(small_config(tiny_dataset, epochs=4), tmp_path / "run", device="cpu", progress=False)
    run = Run.open(tmp_path / "run")
    assert [e["epoch"] for e in run.log] == [1] and "train_time_s" not in run.meta and "nan" in run.meta["stopped"]
    gan = train_dcgan.load(run)
    assert all(torch.isfinite(t).all() for t in gan.tensors().values())


def test_a_nan_in_the_first_epoch_says_no_model_was_saved(tiny_dataset, tmp_path, monkeypatch):
    d_step = train_dcgan.d_step

    def poisoning_d_step(gan, *args):
        gan.D.blocks[-1].weight.data.fill_(float("inf"))
        return d_step(gan, *args)

    monkeypatch.setattr(train_dcgan, "d_step", poisoning_d_step)
    with pytest.raises(GenlabError, match="in epoch 1; training stopped .no epoch finished, so no model was saved"):
        train_dcgan.train(small_config(tiny_dataset), tmp_path / "run", device="cpu", progress=False)


def test_cli_train_eval_sample_round_trip(capsys, tiny_dataset, tmp_path):
    from genlab.cli import main

    run = tmp_path / "run"
    code = main(["train", "dcgan", "--out", str(run), "--dataset", str(tiny_dataset), "--limit", "16", "--batch-size", "8",
                 "--epochs", "1", "--d-steps", "2", "--no-batchnorm", "--quiet", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["d_steps"] == 2 and config["batchnorm"] is False and config["lr"] == 2e-4 and config["beta1"] == 0.5
    code = main(["eval", str(run), "--samples", "40", "--test-limit", "30", "--quiet", "--device", "cpu"])
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert code == 0 and results["family"] == "dcgan" and results["n_params"] == 3_573_697 + 2_762_689
    assert math.isfinite(results["frechet_classifier_distance"]) and results["metric_samples"] == 40
    code = main(["sample", str(run), "--n", "9", "--out", str(tmp_path / "s.png"), "--device", "cpu"])
    capsys.readouterr()
    assert code == 0 and (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_bf16_runs_the_networks_in_bfloat16_and_keeps_float32_parameters(monkeypatch):
    seen = []
    forward = torch.nn.Conv2d.forward

    def recording_forward(self, x):
        out = forward(self, x)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "forward", recording_forward)
    images = torch.randint(0, 256, (16, 64, 64), dtype=torch.uint8)

    def train(**options):
        seen.clear()
        gan = DCGAN(generator=torch.Generator().manual_seed(0))
        history = train_dcgan.fit(gan, images, DCGANConfig(batch_size=8, epochs=1, **options), torch.Generator().manual_seed(0),
                                  progress=False)
        return gan, history, set(seen)

    fp32, fp32_history, fp32_dtypes = train()
    bf16, bf16_history, bf16_dtypes = train(bf16=True)
    assert fp32_dtypes == {torch.float32} and bf16_dtypes == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    assert math.isfinite(bf16_history[0]["d_loss"]) and math.isfinite(bf16_history[0]["g_loss"])
    assert bf16_history[0]["d_loss"] == pytest.approx(fp32_history[0]["d_loss"], rel=0.05)
