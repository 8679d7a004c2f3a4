"""genlab.families: every family's run directory evaluated by ``genlab eval``, sample quality included."""

from __future__ import annotations

import json
import math

from genlab.cli import main
from genlab.evaluation.config import EvalConfig
from genlab.families import evaluate
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig

KEYS = ("frechet_classifier_distance", "frechet_classifier_distance_floor", "classifier_score", "coverage", "coverage_min_share")


def test_eval_adds_the_sample_quality_metrics_for_an_rbm(tiny_dataset, tmp_path):
    run = train_rbm.train(RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1), tmp_path / "run", device="cpu", progress=False)
    results = evaluate(run, EvalConfig(samples=150, test_limit=60), device="cpu", progress=False)
    assert all(math.isfinite(results[k]) for k in KEYS)
    assert results["frechet_classifier_distance"] > 0 and results["frechet_classifier_distance_floor"] > 0
    assert 1 <= results["classifier_score"] <= 10 and 0 <= results["coverage"] <= math.log2(10) + 1e-9
    assert results["metric_samples"] == 150 and results["metric_test_images"] == 60 and results["sample_time_s"] >= 0
    assert json.loads((run.path / "eval.json").read_text())["frechet_classifier_distance"] == results["frechet_classifier_distance"]
    assert "frechet_classifier_distance" not in evaluate(run, EvalConfig(samples=0, test_limit=60), device="cpu", progress=False)


def test_more_samples_than_the_machine_holds_are_refused_before_drawing(tiny_dataset, tmp_path, capsys):
    train_rbm.train(RBMConfig(hidden=8, epochs=1, dataset=str(tiny_dataset)), tmp_path / "run", device="cpu",
                    progress=False)
    code = main(["sample", str(tmp_path / "run"), "--n", str(10**9), "--out", str(tmp_path / "s.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "drawing 1,000,000,000 samples would need about" in err
    assert not (tmp_path / "s.png").exists()


def test_eval_and_sample_refuse_an_unfinished_run_unless_asked(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    train_rbm.train(RBMConfig(hidden=8, epochs=2, dataset=str(tiny_dataset)), out, device="cpu", progress=False)
    meta = json.loads((out / "config.json").read_text())
    del meta["train_time_s"]  # as if killed after epoch 2's model was saved
    (out / "config.json").write_text(json.dumps(meta))
    for argv in (["eval", str(out), "--samples", "0", "--ais-runs", "2", "--ais-betas", "10"],
                 ["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]):
        assert main([*argv, "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "the model of epoch 2; training has not finished" in err and "--unfinished" in err
        assert main([*argv, "--device", "cpu", "--unfinished"]) == 0
    assert json.loads((out / "eval.json").read_text())["unfinished"] == "the model of epoch 2; training has not finished"
    assert (tmp_path / "s.png").is_file()
