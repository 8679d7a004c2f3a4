"""genlab.lab.rbm: the whole RBM lab on a tiny preset."""

from __future__ import annotations

import json

from genlab.evaluation.config import EvalConfig
from genlab.figures.rbm import Generation
from genlab.lab import TASKS
from genlab.lab import rbm as lab_rbm
from genlab.lab.presets import rbm_preset
from genlab.training.rbm import RBMConfig


def test_lab_on_a_tiny_preset_writes_every_figure_and_a_table_per_comparison(tiny_dataset, tmp_path, monkeypatch):
    preset = rbm_preset(
        "tiny",
        RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=2, batch_size=50, eval_every=2),
        EvalConfig(ais_runs=4, ais_betas=40, samples=0),
        cd_k=(1, 2), lr=(0.1, 0.3), hidden=(4, 21),
    )
    monkeypatch.setattr(lab_rbm, "GENERATION", Generation(n=3))
    task = lab_rbm.run(preset, tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    assert (task / "report.md").is_file() and "rbm" in TASKS
    titles = [s["title"] for s in results["sections"]]
    assert [t.split()[0] for t in titles] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"]
    for section in results["sections"]:
        assert all((task / f["path"]).is_file() for f in section["figures"])
    tables = {s["title"][:3]: s["tables"] for s in results["sections"] if s["tables"]}
    assert [len(tables[k][0]["rows"]) for k in ("1.4", "1.5", "1.6", "1.8")] == [2, 2, 2, 2]
    rows = {row[0]: row for row in tables["1.8"][0]["rows"]}
    assert rows["4 hidden"][3] == "exact" and rows["21 hidden"][3] == "AIS 4x40"
    # the observations are computed from the table's numbers
    k_rows = tables["1.5"][0]["rows"]
    best = max(k_rows, key=lambda r: r[1])
    k_section = next(s for s in results["sections"] if s["title"].startswith("1.5"))
    assert k_section["observations"][0].startswith(f"{best[0]} gave the highest test log-likelihood ({best[1]:.2f} nats)")
    # the reference run is trained once and shared (k=1, lr=0.1 and 8 hidden are the same config)
    runs = list((tmp_path / "lab" / "runs").iterdir())
    assert len(runs) == 1 + 1 + 1 + 1 + 2
    log = [json.loads(line) for line in (runs[0] / "log.jsonl").read_text().splitlines()]
    assert ["test_loglik" in e for e in log] == [False, True]  # --eval-every 2 of 2 epochs
