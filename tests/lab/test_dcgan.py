"""genlab lab dcgan on a tiny preset: every variant trained, measured, drawn and reported."""

from __future__ import annotations

import json

from genlab.evaluation.config import EvalConfig
from genlab.lab import run_lab
from genlab.lab.presets import DCGAN_VARIANTS, PRESETS, Preset, vae_preset
from genlab.training.dcgan import DCGANConfig


def test_the_lab_writes_its_report_and_reuses_its_runs(tiny_dataset, tmp_path, monkeypatch):
    vae = vae_preset("quick", 1, 16, EvalConfig(iwae_k=2), "tiny").runs["latent 20"].replace(dataset=str(tiny_dataset))
    tiny = Preset("quick", {"reference": DCGANConfig(dataset=str(tiny_dataset), limit=16, batch_size=8, epochs=1),
                            "vae": vae}, EvalConfig(samples=30), "tiny test preset")
    monkeypatch.setitem(PRESETS["dcgan"], "quick", tiny)
    task = run_lab("dcgan", "quick", tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    table = results["sections"][0]["tables"][0]
    assert [row[0] for row in table["rows"]] == [label for label, _, _ in DCGAN_VARIANTS]
    assert table["columns"][:5] == ["variant", "FCD", "FCD floor", "classifier_score", "coverage (bits)"]
    assert "tiny test preset" in table["note"]
    report = (task / "report.md").read_text()
    assert "5.2" in report and "5.3" in report and "Lowest FCD of these" in report
    for name in ("reference", "d2g1", "d1g2", "no-batchnorm"):
        assert (task / "figures" / f"samples_{name}.png").stat().st_size > 0
    assert "VAE and DCGAN samples side by side" in report and (task / "figures" / "samples_vae.png").is_file()
    assert list(results["models"]) == ["DCGAN"]
    runs = sorted((tmp_path / "lab" / "runs").iterdir())
    assert len(runs) == 5  # four DCGANs and the VAE
    stamps = [(r / "model.safetensors").stat().st_mtime_ns for r in runs]
    run_lab("dcgan", "quick", tmp_path / "lab", device="cpu", progress=False)
    assert [(r / "model.safetensors").stat().st_mtime_ns for r in runs] == stamps
