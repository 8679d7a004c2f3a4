"""genlab's Python API (genlab.api, also at the top level): train, load, sample and evaluate a run as the
command line does, one-line errors for unknown options, an import of genlab without PyTorch, and
docs/api.md in step with the signatures."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import genlab
from genlab import api
from genlab.cli import main
from genlab.families import sample_images
from genlab.models.dbn import DBN, BeliefNet, UpDownDBN
from genlab.models.dcgan import DCGAN
from genlab.models.rbm import RBM
from genlab.models.vae import VAE
from genlab.runs import Run

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
API = ("train", "load", "evaluate", "sample")


@pytest.fixture
def rbm_run(tiny_dataset, tmp_path) -> Run:
    return genlab.train("rbm", tmp_path / "rbm", dataset=tiny_dataset, hidden=8, epochs=2, device="cpu", progress=False)


def test_train_load_sample_evaluate_round_trip(rbm_run, tiny_dataset, tmp_path):
    assert isinstance(rbm_run, Run) and rbm_run.finished and [e["epoch"] for e in rbm_run.log] == [1, 2]
    assert rbm_run.config["hidden"] == 8 and rbm_run.config["dataset"] == str(tiny_dataset)

    model = genlab.load(rbm_run.path)
    assert isinstance(model, RBM) and not model.training and model.W.shape == (784, 8)
    x = torch.rand(5, 784)
    assert torch.equal(model(x), model.free_energy(x))

    images = genlab.sample(str(rbm_run.path), 6, seed=3)
    assert images.shape == (6, 28, 28) and images.device.type == "cpu" and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images, genlab.sample(rbm_run, 6, seed=3))
    assert torch.equal(images, sample_images(rbm_run, 6, 3))

    results = genlab.evaluate(rbm_run, test_limit=40, samples=0, device="cpu", progress=False)
    assert results["test_loglik_method"] == "exact" and results["test_loglik"] < 0
    assert results["eval_config"]["test_limit"] == 40
    assert json.loads((rbm_run.path / "eval.json").read_text())["log_z"] == results["log_z"]


def test_the_command_line_trains_the_same_weights_as_the_api(rbm_run, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["train", "rbm", "--out", str(out), "--dataset", str(tiny_dataset), "--hidden", "8", "--epochs", "2",
                 "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == (rbm_run.path / "model.safetensors").read_bytes()


def test_a_run_may_be_given_where_an_option_names_one(rbm_run, tiny_dataset, tmp_path):
    dbn_run = genlab.train("dbn", tmp_path / "dbn", rbm=rbm_run, dataset=tiny_dataset, top_hidden=4, epochs=1,
                           device="cpu", progress=False)
    assert dbn_run.config["rbm"] == str(rbm_run.path)
    dbn = genlab.load(dbn_run)
    assert isinstance(dbn, DBN) and torch.equal(dbn.rbm1.W, genlab.load(rbm_run).W)
    v = torch.rand(3, 784)
    assert torch.equal(dbn(v, torch.Generator().manual_seed(0)), dbn.reconstruct(v, 0, torch.Generator().manual_seed(0))[1])


@pytest.mark.parametrize(("call", "named"), [
    (lambda out: genlab.train("rbm", out, hiden=8), "genlab.train('rbm'): unknown option hiden (options: dataset, "),
    (lambda out: genlab.train("vae", out, latent=2, cd_k=1, beta=2), "unknown options cd_k, beta (options: "),
    (lambda out: genlab.train("gan", out), "unknown model family 'gan' (one of rbm, dbn, dbn-finetune, vae, dcgan)"),
    (lambda out: genlab.train("rbm", out, hidden=0), "--hidden: expected a positive number, got 0"),
    (lambda out: genlab.evaluate(out, ais_run=5), "genlab.evaluate: unknown option ais_run (options: seed, "),
    (lambda out: genlab.sample(out, 0), "--n: expected a positive number, got 0"),
    (lambda out: genlab.sample(out, 2, seed=-1), "--seed: expected an integer from 0 to 2**62 - 1, got -1"),
])
def test_an_unknown_option_or_a_bad_value_is_a_one_line_error_naming_it(tmp_path, call, named):
    with pytest.raises(genlab.ConfigError) as error:
        call(tmp_path / "run")
    message = str(error.value)
    assert named in message and "\n" not in message
    assert not (tmp_path / "run").exists()


def test_an_unknown_option_error_lists_every_option():
    with pytest.raises(genlab.ConfigError, match=r"\(options: dataset, limit, seed, checkpoint_every, checkpoint_minutes, tensorboard, "
                       r"hidden, cd_k, .*, weight_decay, eval_every, compile, device, data_dir, progress, overwrite, "
                       r"resume\)$"):
        genlab.train("rbm", "unused", hiden=8)


def test_import_genlab_loads_no_pytorch_until_an_api_function_is_used():
    script = """if True:
        import sys, genlab
        print('torch' in sys.modules)
        train = genlab.train
        print('torch' in sys.modules, train.__module__, callable(train))
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, check=True)
    assert done.stdout.split() == ["False", "True", "genlab.api", "True"]


def test_the_api_is_at_the_top_level_beside_the_subpackages():
    import genlab.evaluation.rbm  # importing a subpackage binds its name in its parent
    import genlab.training.rbm

    for name in API:
        assert getattr(genlab, name) is getattr(api, name)
        assert name in dir(genlab) and name in genlab.__all__
    from genlab.training import rbm

    assert rbm.RBMConfig().hidden == 100  # the subpackage, by its full name
    assert {"Run", "ConfigError", "GenlabError", "__version__"} <= set(genlab.__all__) <= set(dir(genlab))
    with pytest.raises(AttributeError, match="no attribute 'fit'"):
        genlab.fit  # noqa: B018


# ----------------------------------------------------------------------------- docs/api.md


def signature(name: str, function) -> str:
    """``name(a, b=1, *, c=None)``: a signature as docs/api.md writes it, without annotations and self."""
    sig = inspect.signature(function)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values() if p.name not in ("self", "cls")]
    return f"{name}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def public_methods(cls: type) -> list[str]:
    """The signature of each public method that a model class itself defines, and the name of each property."""
    return [name if isinstance(value, property) else signature(name, getattr(cls, name))
            for name, value in vars(cls).items() if not name.startswith("_")]


@pytest.mark.parametrize("cls", [RBM, BeliefNet, DBN, UpDownDBN, VAE, DCGAN], ids=lambda c: c.__name__)
def test_the_api_reference_lists_every_public_method_of_each_model_with_its_signature(cls):
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split(f"### {cls.__name__}", 1)[1].split("\n### ", 1)[0]
    missing = [sig for sig in public_methods(cls) if f"`{sig}`" not in section]
    assert f"`{signature(cls.__name__, cls.__init__)}`" in section or cls is BeliefNet
    assert not missing, f"docs/api.md, {cls.__name__}: {missing}"


def test_the_api_reference_gives_each_functions_signature():
    text = (ROOT / "docs" / "api.md").read_text()
    for name in API:
        assert f"`genlab.{signature(name, getattr(api, name))}`" in text
