"""genlab.migrations: run directories of earlier versions read as what they ran, and keep their lab keys."""

from __future__ import annotations

import pytest

from genlab import migrations
from genlab.lab.core import config_key
from genlab.runs import Run
from genlab.training.dcgan import DCGANConfig
from genlab.training.rbm import RBMConfig
from genlab.training.vae import VAEConfig


def test_identity_leaves_out_later_options_at_the_value_earlier_runs_had():
    assert "bf16" not in migrations.identity("vae", VAEConfig().identity())
    assert migrations.identity("vae", VAEConfig(bf16=True).identity())["bf16"] is True
    assert set(VAEConfig().identity()) - set(migrations.identity("vae", VAEConfig().identity())) == {"bf16"}


def test_the_path_a_run_takes_is_not_part_of_what_the_run_is():
    """Every path computes the same numbers up to rounding: --no-compile re-uses the lab's runs."""
    for config in (RBMConfig(), VAEConfig()):
        assert "compile" not in config.identity()
        assert config_key("rbm", config.replace(compile=False)) == config_key("rbm", config)


def test_a_config_from_before_an_option_existed_keeps_its_lab_key():
    """A run's key hashes its identity: an option added later, at its earlier value, changes nothing."""
    before = {k: v for k, v in VAEConfig(epochs=3).identity().items() if k != "bf16"}
    import hashlib
    import json

    key = hashlib.sha256(json.dumps({"family": "vae", "config": before}, sort_keys=True).encode()).hexdigest()[:12]
    assert config_key("vae", VAEConfig(epochs=3)) == key
    assert config_key("vae", VAEConfig(epochs=3, bf16=True)) != key


@pytest.mark.parametrize(("device", "bf16", "cpu_bf16", "expected"), [
    ("cpu", True, False, False), ("cpu", True, True, True), ("cuda", True, False, True), ("cuda", False, False, False),
    ("cpu", True, None, False), ("cuda", True, None, True),  # written before cpu_bf16 existed
])
def test_a_run_config_from_when_bf16_applied_on_cuda_only_reads_as_what_ran(tmp_path, device, bf16, cpu_bf16, expected):
    old = {**DCGANConfig().to_dict(), "bf16": bf16, "cpu_bf16": cpu_bf16}
    if cpu_bf16 is None:
        del old["cpu_bf16"]
    run = Run.create(tmp_path / "run", "dcgan", old, data={"image_shape": [28, 28]}, device=device)
    run.update_meta(versions={**run.meta["versions"], "genlab": "0.1.0"})
    assert DCGANConfig.from_dict(Run.open(run.path).config).bf16 is expected


def test_a_run_config_of_this_version_reads_as_written(tmp_path):
    run = Run.create(tmp_path / "run", "dcgan", DCGANConfig(bf16=True).to_dict(), data={"image_shape": [28, 28]}, device="cpu")
    assert DCGANConfig.from_dict(Run.open(run.path).config).bf16 is True


def test_an_eval_json_with_fid_reads_as_the_frechet_classifier_distance(tmp_path):
    run = Run.create(tmp_path / "run", "dcgan", DCGANConfig().to_dict(), data={"image_shape": [28, 28]}, device="cpu")
    (run.path / "eval.json").write_text('{"family": "dcgan", "fid": 12.5, "fid_floor": 4.25, "classifier_score": 8.0}')
    assert Run.open(run.path).read_eval() == {"family": "dcgan", "frechet_classifier_distance": 12.5,
                                              "frechet_classifier_distance_floor": 4.25, "classifier_score": 8.0}
