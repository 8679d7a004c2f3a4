"""genlab.training.vae: run directories, reproducibility, options, and the CLI end to end."""

from __future__ import annotations

import json

import pytest
import torch

from genlab import data
from genlab.cli import main
from genlab.errors import ConfigError
from genlab.models.vae import VAE
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.training import vae as train_vae
from genlab.training.vae import VAEConfig


def small_config(dataset, **kw) -> VAEConfig:
    return VAEConfig(**{"dataset": str(dataset), "latent": 3, "hidden": "32,16", "epochs": 2, "batch_size": 64, **kw})


def test_training_writes_a_complete_run_directory(tiny_dataset, tmp_path):
    run = train_vae.train(small_config(tiny_dataset), tmp_path / "run", device="cpu", progress=False)
    meta = json.loads((run.path / "config.json").read_text())
    assert meta["family"] == "vae" and meta["config"]["latent"] == 3 and meta["config"]["targets"] == "soft"
    assert meta["train_time_s"] > 0 and meta["data"]["train_images"] == 300
    log = [json.loads(line) for line in (run.path / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2]
    assert all(e["train_loss"] > 0 and e["test_elbo"] < 0 for e in log)
    assert {p.name for p in (run.path / "figures").iterdir()} == {
        "reconstructions.png", "latent_boxplots.png", "latent_scatter.png", "latent_walk.png", "samples.png"
    }
    model = train_vae.load(Run.open(run.path))
    assert model.latent == 3 and model.encoder[0].weight.shape == (32, 784) and model.decoder[0].weight.shape == (16, 3)


def fit_from_seed(train_x: torch.Tensor, config: VAEConfig) -> VAE:
    generator = make_generator(config.seed)
    model = train_vae.build(config, train_x.shape[1], generator)
    train_vae.fit(model, train_x, config, generator, progress=False)
    return model


def same(a: VAE, b: VAE) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))


@pytest.mark.parametrize("targets", ["soft", "binarized"])
def test_same_seed_gives_bit_identical_weights_on_the_cpu(tiny_dataset, targets):
    cfg = small_config(tiny_dataset, targets=targets)
    x = data.as_float(data.load_split(str(tiny_dataset), "train").images)
    a, b = fit_from_seed(x, cfg), fit_from_seed(x, cfg)
    assert same(a, b)
    assert not torch.equal(a.mu.weight, fit_from_seed(x, cfg.replace(seed=1)).mu.weight)
    other = "soft" if targets == "binarized" else "binarized"  # fresh Bernoulli targets change the training
    assert not torch.equal(a.mu.weight, fit_from_seed(x, cfg.replace(targets=other)).mu.weight)


def test_a_trained_run_is_determined_by_its_seed(tiny_dataset, tmp_path):
    cfg = small_config(tiny_dataset, targets="binarized", epochs=1)
    run = train_vae.train(cfg, tmp_path / "run", device="cpu", progress=False)
    x = data.as_float(data.load_split(str(tiny_dataset), "train").images)
    assert same(train_vae.load(run), fit_from_seed(x, cfg))


def test_the_reference_defaults_and_option_checks():
    cfg = VAEConfig()
    assert (cfg.latent, cfg.hidden, cfg.activation, cfg.lr, cfg.batch_size, cfg.epochs, cfg.targets) == (
        20, "200,200", "softplus", 3.24e-4, 1024, 100, "soft"
    )
    for bad, flag in (({"hidden": "200,x"}, "--hidden"), ({"hidden": "200,0"}, "--hidden"),
                      ({"targets": "grey"}, "--targets"), ({"activation": "gelu"}, "--activation"),
                      ({"latent": 0}, "--latent")):
        with pytest.raises(ConfigError, match=flag):
            VAEConfig(**bad)


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_train_eval_sample_through_the_cli(capsys, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "vae", "--out", str(run), "--dataset", str(tiny_dataset), "--latent", "2",
                             "--hidden", "24", "--epochs", "2", "--batch-size", "100", "--targets", "binarized",
                             "--quiet", "--device", "cpu")
    assert code == 0, err
    code, out, err = run_cli(capsys, "eval", str(run), "--iwae-k", "50", "--samples", "0", "--quiet", "--device", "cpu")
    assert code == 0, err
    results = json.loads(out)
    assert results["test_loglik_method"] == "iwae" and results["test_loglik"] == results["test_iwae"]
    assert results["test_elbo"] < results["test_iwae"] < 0 and results["iwae_k"] == 50
    assert len(results["kl_per_dim"]) == 2 and 0 <= results["active_units"] <= 2
    assert results["n_params"] == (784 * 24 + 24) + 2 * (24 * 2 + 2) + (2 * 24 + 24) + (24 * 784 + 784)
    assert 0 <= results["probe_accuracy"] <= 1 and 0 < results["recon_error"] < 1
    assert json.loads((run / "eval.json").read_text())["test_iwae"] == results["test_iwae"]
    code, out, err = run_cli(capsys, "sample", str(run), "--n", "16", "--out", str(tmp_path / "s.png"), "--device", "cpu")
    assert code == 0 and (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_invalid_vae_options_exit_2_with_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "vae", "--out", str(tmp_path / "x"), "--targets", "grey")
    assert code == 2 and "--targets" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "train", "vae", "--out", str(tmp_path / "x"), "--hidden", "200,abc")
    assert code == 2 and "--hidden: expected comma-separated positive layer sizes" in err


def test_a_one_dimensional_latent_trains_and_skips_the_latent_plane_figures(tiny_dataset, tmp_path):
    run = train_vae.train(small_config(tiny_dataset, latent=1, epochs=1), tmp_path / "run", device="cpu", progress=False)
    assert {p.name for p in run.figures.iterdir()} == {"reconstructions.png", "latent_boxplots.png", "samples.png"}


def train_small(pixels: bool = False, **options) -> tuple[VAE, list[float]]:
    """A few epochs on random images, given as floats in [0, 1] or (``pixels``) as the same values in uint8 0-255."""
    codes = torch.randint(0, 256, (256, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    x = codes if pixels else codes.float() / 255
    model = VAE(64, 4, (32,), "softplus", generator=torch.Generator().manual_seed(1))
    config = VAEConfig(latent=4, hidden="32", epochs=3, batch_size=64, lr=1e-2, **options)
    return model, train_vae.fit(model, x, config, torch.Generator().manual_seed(2), progress=False)


@pytest.mark.skipif(not __import__("shutil").which("g++"), reason="torch.compile needs a C++ compiler on the CPU")
def test_compiled_training_follows_the_plain_loop_on_the_same_random_stream(monkeypatch):
    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    eager, eager_losses = train_small(compile=False)
    compiled, compiled_losses = train_small(pixels=True)  # uint8 rows, converted inside the graph
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4)
    for name, t in eager.state_dict().items():
        assert torch.allclose(compiled.state_dict()[name], t, atol=1e-4), name


@pytest.mark.parametrize("options", [{}, {"targets": "binarized"}])
def test_uint8_pixels_train_exactly_as_their_grey_values(options):
    model, losses = train_small(**options)
    from_pixels, pixel_losses = train_small(pixels=True, **options)
    assert pixel_losses == losses
    assert all(torch.equal(from_pixels.state_dict()[name], t) for name, t in model.state_dict().items())


def test_bf16_training_keeps_float32_parameters_and_close_losses():
    fp32, fp32_losses = train_small()
    bf16, bf16_losses = train_small(bf16=True)
    assert all(t.dtype == torch.float32 for t in bf16.state_dict().values())
    assert bf16_losses == pytest.approx(fp32_losses, rel=0.01)
    assert bf16_losses[-1] < bf16_losses[0]
    assert not torch.equal(bf16.state_dict()["logits.weight"], fp32.state_dict()["logits.weight"])


def test_kl_warm_up_raises_the_kl_weight_linearly_over_its_epochs():
    class Recorder:
        kl_weight = 1.0

        def __init__(self):
            self.seen = []

        def __call__(self, target, eps):
            self.seen.append(self.kl_weight)
            return torch.zeros(())

    model = VAE(36, 2, (8,), generator=torch.Generator().manual_seed(0))
    x = torch.rand(100, 36, generator=torch.Generator().manual_seed(1))
    step = Recorder()
    train_vae.fit(model, x, VAEConfig(epochs=3, batch_size=25, kl_warmup=2, latent=2, hidden="8"),
                  torch.Generator().manual_seed(2), progress=False, step=step)
    assert step.seen == [min(1.0, t / 8) for t in range(1, 13)]  # 4 minibatches an epoch, warm over 8 updates


def test_the_output_bias_can_start_at_the_logit_of_the_mean_image(tiny_dataset, tmp_path):
    cfg = VAEConfig(dataset=str(tiny_dataset), epochs=1, batch_size=100, latent=2, hidden="8", lr=1e-12,
                    output_bias="mean")
    run = train_vae.train(cfg, tmp_path / "run", device="cpu", progress=False)
    pixels = data.load_split(data.resolve(str(tiny_dataset)), "train", "cpu").images
    expected = torch.logit(data.as_float(pixels).mean(0), eps=1e-3)
    assert torch.allclose(train_vae.load(run).logits.bias, expected, atol=1e-4)


@pytest.mark.parametrize(("options", "message"), [
    ({"kl_warmup": 5, "iwae_train_k": 5}, "--kl-warmup: not with --iwae-train-k"),
])
def test_literature_options_that_do_not_combine_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        VAEConfig(**options)


@pytest.mark.parametrize("options", [{"kl_warmup": 1}, {"iwae_train_k": 2}, {"compile": False}])
def test_what_the_fused_step_does_not_do_runs_on_the_plain_loop_and_config_json_says_so(options, monkeypatch,
                                                                                      tiny_dataset, tmp_path):
    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    monkeypatch.setattr(train_vae.accel.vae, "adam_step", lambda *a: pytest.fail("the fused step was built"))
    cfg = VAEConfig(dataset=str(tiny_dataset), epochs=1, batch_size=100, latent=2, hidden="8", **options)
    run = train_vae.train(cfg, tmp_path / "run", device="cpu", progress=False)
    assert Run.open(run.path).meta["path"] == "plain"


def test_iwae_training_draws_k_noise_samples_per_image():
    seen = []
    model = VAE(36, 2, (8,), generator=torch.Generator().manual_seed(0))
    x = torch.rand(50, 36, generator=torch.Generator().manual_seed(1))
    train_vae.fit(model, x, VAEConfig(epochs=1, batch_size=25, iwae_train_k=3, latent=2, hidden="8"),
                  torch.Generator().manual_seed(2), progress=False,
                  step=lambda target, eps: seen.append(tuple(eps.shape)) or torch.zeros(()))
    assert seen == [(3, 25, 2), (3, 25, 2)]
