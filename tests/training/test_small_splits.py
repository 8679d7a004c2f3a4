"""Data sets too small for what a run draws: a split with no images is refused in one line before
training; a test split smaller than a figure's row gives a figure of the images there are."""

from __future__ import annotations

import pytest
from helpers import write_dataset

from genlab.cli import main
from genlab.families import FAMILIES


@pytest.mark.parametrize(("n_train", "n_test", "empty"), [(300, 0, "t10k-images"), (0, 50, "train-images")])
def test_a_split_without_images_is_refused_in_one_line_before_training(n_train, n_test, empty, tmp_path, capsys):
    dataset = write_dataset(tmp_path / "data", n_train, n_test)
    code = main(["train", "rbm", "--out", str(tmp_path / "run"), "--dataset", str(dataset), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and f"{empty}-idx3-ubyte.gz: holds no images, expected at least one" in err
    assert not (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.parametrize(("family", "options"), [
    ("rbm", {"hidden": 16}), ("dbn", {"rbm_hidden": 16, "top_hidden": 8}), ("vae", {"latent": 2, "batch_size": 100})])
def test_a_test_split_of_five_images_gives_figures_of_five(family, options, tmp_path):
    dataset = write_dataset(tmp_path / "data", 300, 5)
    spec = FAMILIES[family]
    run = spec.train(spec.config(dataset=str(dataset), epochs=1, **options), tmp_path / "run", device="cpu", progress=False)
    assert run.finished
    assert (run.path / "figures" / "reconstructions.png").stat().st_size > 0
