"""genlab.lab.dbn: both DBN labs end to end on a tiny data set, and run re-use keyed by the source run."""

from __future__ import annotations

import json
import shutil

import torch
from helpers import unformatted_placeholders

from genlab.evaluation.config import EvalConfig
from genlab.figures import plots
from genlab.lab import TASKS
from genlab.lab import dbn as lab_dbn
from genlab.lab.core import config_key
from genlab.lab.dbn import run_dbn, run_finetune, stacked_config
from genlab.lab.presets import DBN, Preset, dbn_preset
from genlab.lab.questions import QUESTIONS
from genlab.models.rbm import RBM
from genlab.runs import Run
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig
from genlab.training.updown import FinetuneConfig


def tiny_preset(dataset) -> Preset:
    common = {"dataset": str(dataset), "epochs": 1}
    return dbn_preset("tiny", RBMConfig(hidden=9, **common), DBNConfig(top_hidden=4, **common), FinetuneConfig(**common),
                      EvalConfig(quick=True, samples=0), "a tiny data set")  # the lab's quick evaluation


def answered(results: dict, numbers: list[str]) -> None:
    """Each numbered section holds the lab's question and an answer, and no text keeps a format placeholder."""
    sections = {s["title"].split(" ", 1)[0]: s for s in results["sections"]}
    for number in numbers:
        assert sections[number]["question"] == QUESTIONS[number] and sections[number]["answer"], number
    assert unformatted_placeholders(json.dumps([s["answer"] + s["observations"] + [s["text"]] for s in results["sections"]])) == []


def test_the_presets_reconstruct_with_the_top_rbms_cd_k_and_beside_it_with_none():
    for p in DBN.values():
        assert lab_dbn.recon_steps(p) == p.runs["dbn"].cd_k == 2
    assert lab_dbn.recon_steps(dbn_preset("x", RBMConfig(), DBNConfig(cd_k=5), FinetuneConfig(), EvalConfig(), "")) == 5


def test_both_labs_write_reports_and_share_their_runs(tiny_dataset, tmp_path, monkeypatch):
    assert {"dbn", "dbn-finetune"} <= set(TASKS)
    monkeypatch.setattr(lab_dbn, "GIBBS_STEPS", 5)
    # one matplotlib axes per image makes 20-column figures slow: draw two columns of each here
    rows_figure = plots.rows_figure
    monkeypatch.setattr(plots, "rows_figure", lambda rows, path, **kw: rows_figure([(n, x[:2]) for n, x in rows], path, **kw))
    p = tiny_preset(tiny_dataset)
    task = run_dbn(p, tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    table = results["sections"][0]["tables"][0]
    assert [row[0] for row in table["rows"]][:2] == ["RBM (task 1)", "DBN 784-9-4"]
    assert table["columns"][1:3] == ["test log p(v) [nats]", "method"]
    assert [row[2] for row in table["rows"]] == ["exact", "bound", "bound", "bound"]
    rbm_loglik, init_bound = table["rows"][0][1], table["rows"][2][1]
    # the wide DBN at initialisation is RBM 1 (MC error only), measured on the same (every 5th) test images
    assert abs(rbm_loglik - init_bound) < 0.05
    for section in results["sections"]:
        for figure in section["figures"]:
            assert (task / figure["path"]).read_bytes()[:4] == b"\x89PNG"
    answered(results, ["2.1", "2.2", "2.3", "2.4"])
    assert "2 Gibbs steps h2 -> h1 -> h2 in the top RBM" in results["sections"][2]["text"]
    runs = sorted(p.name for p in (tmp_path / "lab" / "runs").iterdir())
    assert [r.split("-")[0] for r in runs] == ["dbn", "dbn", "rbm"]

    stamps = {r: (tmp_path / "lab" / "runs" / r / "model.safetensors").stat().st_mtime_ns for r in runs}
    task = run_finetune(p, tmp_path / "lab", device="cpu", progress=False)
    md = (task / "report.md").read_text()
    assert "DBN + up-down (task 3)" in md and "Bound before fine-tuning" in md
    answered(json.loads((task / "results.json").read_text()), ["3.1", "3.2", "3.3"])
    after = {r: (tmp_path / "lab" / "runs" / r / "model.safetensors").stat().st_mtime_ns for r in runs}
    assert after == stamps  # the RBM and the DBNs were re-used
    assert len(list((tmp_path / "lab" / "runs").glob("dbn-finetune-*"))) == 1


def test_the_config_hash_of_a_stacked_dbn_follows_the_rbm_runs_content(tmp_path):
    def rbm_run(seed):
        run = Run.create(tmp_path / "rbm", "rbm", RBMConfig(hidden=6).to_dict(), data={"image_shape": [28, 28]},
                         overwrite=True)
        run.save_model(RBM(784, 6, generator=torch.Generator().manual_seed(seed)).tensors())
        run.update_meta(train_time_s=1.0)
        return run

    first = config_key("dbn", stacked_config(DBNConfig(), rbm_run(0)))
    assert config_key("dbn", stacked_config(DBNConfig(), rbm_run(0))) == first
    assert config_key("dbn", stacked_config(DBNConfig(), rbm_run(1))) != first
    rbm_run(0)
    moved = Run.open(shutil.copytree(tmp_path / "rbm", tmp_path / "moved-lab" / "rbm"))
    stacked = stacked_config(DBNConfig(), moved)
    assert stacked.rbm == str(moved.path.resolve()) and config_key("dbn", stacked) == first  # the same content elsewhere
