"""genlab.lab.rbm: the figure computations against their definitions, and the whole lab on a tiny preset."""

from __future__ import annotations

import json

import torch

from genlab.evaluate.run import EvalConfig
from genlab.lab import LABS
from genlab.lab import rbm as lab_rbm
from genlab.models.rbm import RBM
from genlab.train.rbm import RBMConfig


def test_buildup_starts_at_the_visible_bias_and_ends_at_the_reconstruction():
    rbm = RBM(12, 6, init_std=1.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 1, generator=torch.Generator().manual_seed(1))
    h = torch.tensor([1.0, 0, 1, 1, 0, 0], dtype=torch.float64)
    units, images = lab_rbm.buildup(rbm, h)
    assert units == [0, 2, 3] and images.shape == (4, 12)
    assert torch.allclose(images[0], torch.sigmoid(rbm.v_bias))
    assert torch.allclose(images[2], torch.sigmoid(rbm.v_bias + rbm.W[:, 0] + rbm.W[:, 2]))
    assert torch.allclose(images[-1], rbm.p_v(h[None])[0])


def test_generation_inits_follow_the_spec():
    spec = lab_rbm.Generation(n=200, fraction=0.1, gain=20.0, strength=10.0)
    random, single, units = spec.inits(100, torch.Generator().manual_seed(0))
    assert set(random.unique().tolist()) == {0.0, 20.0} and abs((random > 0).float().mean().item() - 0.1) < 0.01
    assert len(units) == 100 and torch.equal(single.sum(1), torch.full((100,), 10.0))
    assert torch.equal(single.argmax(1), torch.tensor(units))


def test_hidden_grid_is_as_square_as_possible():
    assert [lab_rbm.hidden_grid_shape(n) for n in (100, 25, 50, 250, 500, 7)] == [(10, 10), (5, 5), (5, 10), (10, 25), (20, 25), (1, 7)]


def test_lab_on_a_tiny_preset_writes_every_figure_and_a_table_per_comparison(tiny_dataset, tmp_path):
    preset = lab_rbm.Preset(
        "tiny",
        RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=2, batch_size=50, eval_every=2),
        EvalConfig(ais_runs=4, ais_betas=40, samples=0),
        ks=(1, 2), lrs=(0.1, 0.3), hiddens=(4, 21),
        generation=lab_rbm.Generation(n=3),
    )
    task = lab_rbm.run_preset(preset, tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    assert (task / "report.md").is_file() and "rbm" in LABS
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
