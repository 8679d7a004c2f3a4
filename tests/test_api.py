"""genlab's Python API (genlab.api, also at the top level): train, load, sample and evaluate a run as the
command line does, one-line errors for unknown options, an import of genlab without PyTorch, and
docs/api.md in step with the signatures."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch

import genlab
from genlab import api
from genlab.cli import main
from genlab.data import memory, read_split
from genlab.evaluation.config import EvalConfig
from genlab.families import sample_images
from genlab.models.dbn import DBN, BeliefNet, UpDownDBN
from genlab.models.dcgan import DCGAN
from genlab.models.rbm import RBM
from genlab.models.saved import Saveable
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
    with pytest.raises(genlab.ConfigError, match=r"\(options: dataset, limit, seed, checkpoint_every, checkpoint_minutes, "
                       r"tensorboard, hidden, cd_k, .*, weight_decay, eval_every, compile, data, test_data, image_shape, "
                       r"device, data_dir, progress, overwrite, resume\)$"):
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


# ----------------------------------------------------------------------------- images in memory


@pytest.fixture(scope="module")
def mnist_head(mnist_dir):
    """The first 500 training and 100 test images of the real MNIST files, with their labels."""
    from genlab.data import load_split

    train = load_split("mnist", "train", limit=500, data_dir=mnist_dir)
    test = load_split("mnist", "test", data_dir=mnist_dir).head(100)
    return train.images, train.labels, test.images, test.labels


RBM_OPTIONS = {"hidden": 16, "epochs": 1, "seed": 5, "device": "cpu", "progress": False}


def test_an_rbm_trained_on_the_first_500_mnist_images_in_memory_has_the_weights_of_limit_500(mnist_head, mnist_dir,
                                                                                            tmp_path):
    images, labels, test_images, test_labels = mnist_head
    files = genlab.train("rbm", tmp_path / "files", data_dir=mnist_dir, limit=500, **RBM_OPTIONS)
    memory = genlab.train("rbm", tmp_path / "memory", data=(images.float() / 255, labels.numpy()),
                          test_data=(test_images, test_labels), **RBM_OPTIONS)
    assert (memory.path / "model.safetensors").read_bytes() == (files.path / "model.safetensors").read_bytes()
    record = memory.meta["data"]
    assert record["dataset"].startswith("memory-") and record["train_images"] == 500 and record["test_images"] == 100
    assert record["image_shape"] == [28, 28] and memory.config["dataset"] == record["directory"]
    assert record["sha256"]["train-images-idx3-ubyte"] == hashlib.sha256(
        bytes([0, 0, 8, 3, 0, 0, 1, 244, 0, 0, 0, 28, 0, 0, 0, 28]) + images.numpy().tobytes()).hexdigest()
    results = genlab.evaluate(memory, test_limit=50, samples=0, device="cpu", progress=False)
    assert results["test_loglik_method"] == "exact" and 0.1 < results["probe_accuracy"] <= 1


def test_every_form_of_the_same_images_is_the_same_data_set(mnist_head):
    from torch.utils.data import TensorDataset

    images, labels, _, _ = mnist_head
    forms = {
        "uint8 tensor": (images, labels),
        "float rows": (images.reshape(500, 784).double() / 255, labels),
        "numpy with a channel": (images[:, None].numpy(), labels.numpy()),
        "dataset of pairs": TensorDataset(images.float() / 255, labels),
    }
    sources = {name: memory.memory_source(memory.as_split(form, "data", (28, 28))) for name, form in forms.items()}
    assert len({source.directory for source in sources.values()}) == 1
    train = read_split(sources["dataset of pairs"], "train")
    assert torch.equal(train.images, images) and torch.equal(train.labels, labels)


def test_without_out_the_run_goes_to_a_temporary_directory_and_eval_says_what_is_missing(mnist_head, capsys):
    run = genlab.train("rbm", data=mnist_head[0][:100], **RBM_OPTIONS)
    try:
        assert run.finished and run.path.name.startswith("genlab-rbm-")
        err = capsys.readouterr().err
        assert f"run written to {run.path}" in err and "no test_data: training's test numbers" in err
        assert main(["eval", str(run.path), "--device", "cpu", "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "without test_data: genlab eval needs held-out test images" in err and err.count("\n") == 1
        assert genlab.sample(run, 2).shape == (2, 28, 28)  # sampling needs no data
        shutil.rmtree(run.meta["data"]["directory"])  # the copy in the cache
        assert main(["eval", str(run.path), "--device", "cpu", "--quiet"]) == 1
        assert "trained on in memory are no longer in genlab's cache" in capsys.readouterr().err
    finally:
        shutil.rmtree(run.path)


def test_eval_refuses_images_in_memory_without_labels_naming_what_needs_them(mnist_head):
    images, _, test_images, _ = mnist_head
    source = memory.memory_source(memory.as_split(images, "data"), memory.as_split(test_images, "test_data"))
    with pytest.raises(genlab.GenlabError, match="without labels: genlab eval needs them for the linear probe and "
                                                 "the sample-quality classifier"):
        memory.check_measurable(source)


@pytest.mark.parametrize(("data", "more", "named"), [
    (torch.linspace(-1, 1, 10 * 784).reshape(10, 28, 28), {}, "data: float pixels from -1 to 1, expected values in [0, 1]"),
    (torch.full((10, 28, 28), float("nan")), {}, "expected values in [0, 1]"),
    (torch.zeros(10, 28, 28, dtype=torch.int64), {}, "data: torch.int64 pixels, expected uint8"),
    (torch.zeros(10, 784), {}, "data: rows of 784 pixels; pass image_shape=(height, width)"),
    (torch.zeros(10, 784), {"image_shape": (20, 20)}, "image_shape: (20, 20), expected (height, width) of 784 pixels"),
    ((torch.zeros(10, 28, 28), torch.zeros(9)), {}, "data: labels of shape [9], expected one for each of the 10"),
    ((torch.zeros(10, 28, 28), torch.full((10,), 300)), {}, "data: labels from 300 to 300"),
    (torch.zeros(10, 28, 28), {"test_data": torch.zeros(5, 14, 14)}, "test_data: (14, 14) images, expected"),
    (torch.zeros(10, 28, 28), {"test_data": (torch.zeros(5, 28, 28), torch.zeros(5))}, "labels given for one of"),
    (torch.zeros(10, 28, 28), {"dataset": "mnist"}, "data= and dataset=: give the images in memory or a data set"),
    ("images.png", {}, "data: got str, expected a tensor, a NumPy array or a Dataset of images"),
    (None, {"test_data": torch.zeros(5, 28, 28)}, "test_data is for data=; give the training images as data"),
])
def test_images_in_memory_not_in_a_known_form_are_a_one_line_error(tmp_path, data, more, named):
    with pytest.raises(genlab.ConfigError) as error:
        genlab.train("rbm", tmp_path / "run", data=data, **more, **RBM_OPTIONS)
    assert named in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- model.save


def test_a_saved_model_samples_as_its_run_does_on_the_command_line(rbm_run, tmp_path, capsys):
    copy = genlab.load(rbm_run).save(tmp_path / "copy" / rbm_run.path.name)  # the same name: the same title
    pngs = {}
    for name, run in (("original", rbm_run.path), ("copy", copy)):
        pngs[name] = tmp_path / f"{name}.png"
        assert main(["sample", str(run), "--n", "9", "--seed", "4", "--out", str(pngs[name]), "--device", "cpu"]) == 0
    assert pngs["copy"].read_bytes() == pngs["original"].read_bytes()
    saved = Run.open(copy)
    assert saved.finished and saved.config == rbm_run.config and saved.meta["data"] == rbm_run.meta["data"]
    assert saved.meta["saved"]["from_run"] == str(rbm_run.path.resolve())
    changed = genlab.load(copy)
    changed.W.data.mul_(0.5)
    assert torch.equal(genlab.load(changed.save(tmp_path / "halved")).W, changed.W)


@pytest.mark.parametrize("model", [RBM(784, 6), VAE(784, 3, (12,)), DBN.stack(RBM(784, 6), 5),
                                   UpDownDBN.from_dbn(DBN.stack(RBM(784, 6), 5)), DCGAN(4, batchnorm=False)],
                         ids=lambda m: type(m).__name__)
def test_a_model_made_in_python_saves_as_a_run_of_its_family(model, tmp_path):
    path = model.save(tmp_path / "run", image_shape=(28, 28))
    run = Run.open(path)
    assert run.family == model.family and run.finished and run.meta["data"]["image_shape"] == [28, 28]
    loaded = genlab.load(path)
    assert type(loaded) is type(model)
    assert all(torch.equal(a, b) for a, b in zip(model.tensors().values(), loaded.tensors().values(), strict=True))
    assert torch.equal(genlab.sample(path, 3, seed=1), genlab.sample(path, 3, seed=1))


def test_save_refuses_a_directory_of_other_files_and_an_unknown_image_shape(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(genlab.ConfigError, match="exists and is not an empty directory"):
        RBM(784, 4).save(tmp_path / "full")
    with pytest.raises(genlab.ConfigError, match="RBM has no known image shape; pass image_shape"):
        RBM(700, 4).save(tmp_path / "odd")
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine" and not (tmp_path / "odd").exists()


# ----------------------------------------------------------------------------- docs/api.md


def signature(name: str, function) -> str:
    """``name(a, b=1, *, c=None)``: a signature as docs/api.md writes it, without annotations and self."""
    sig = inspect.signature(function)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values() if p.name not in ("self", "cls")]
    return f"{name}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def public_methods(cls: type) -> list[str]:
    """The signature of each public method that a model class itself defines, and the name of each property
    and class attribute."""
    return [signature(name, getattr(cls, name)) if callable(value) or isinstance(value, classmethod | staticmethod)
            else name
            for name, value in vars(cls).items() if not name.startswith("_")]


@pytest.mark.parametrize("cls", [Saveable, RBM, BeliefNet, DBN, UpDownDBN, VAE, DCGAN], ids=lambda c: c.__name__)
def test_the_api_reference_lists_every_public_method_of_each_model_with_its_signature(cls):
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split(f"### {cls.__name__}", 1)[1].split("\n### ", 1)[0]
    missing = [sig for sig in public_methods(cls) if f"`{sig}`" not in section]
    assert f"`{signature(cls.__name__, cls.__init__)}`" in section or cls in (BeliefNet, Saveable)
    assert not missing, f"docs/api.md, {cls.__name__}: {missing}"


def test_the_api_reference_gives_each_functions_signature():
    text = (ROOT / "docs" / "api.md").read_text()
    for name in API:
        assert f"`genlab.{signature(name, getattr(api, name))}`" in text


def test_the_api_reference_names_every_option_of_evaluate():
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("numbers as a dict. `options` are", 1)[1].split("\n\n", 1)[0]
    missing = [f.name for f in fields(EvalConfig) if f"`{f.name}`" not in section]
    assert not missing, f"docs/api.md, evaluate's options: {missing}"
