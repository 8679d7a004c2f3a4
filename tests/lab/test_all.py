"""genlab lab all --preset tiny: every task, the cross-model table and the combined page, opened in Chromium
(on the first 2,000 training and 500 test images of MNIST, a data set of their own)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import ARTIFACTS, check_in_browser, need_browser, pdf_pages
from helpers import unformatted_placeholders

from genlab.cli import main
from genlab.lab import TASKS
from genlab.lab.all import SUMMARY_COLUMNS
from genlab.lab.pdf import print_pdf
from genlab.lab.questions import QUESTIONS, number

MODELS = ["RBM (reference)", "DBN 784-100-100", "DBN + up-down fine-tuning", "VAE (20-D latent)", "VAE (2-D latent)", "DCGAN"]


def lab_all_command(out: Path, dataset: Path, cache: Path) -> int:
    with pytest.MonkeyPatch.context() as mp:  # the test session's cache: the metrics classifier is trained once
        mp.setenv("GENLAB_CACHE_DIR", str(cache))
        return main(["lab", "all", "--preset", "tiny", "--out", str(out), "--dataset", str(dataset), "--device", "cpu", "--quiet"])


@pytest.fixture(scope="module")
def lab_all(mnist_subset_dir, tmp_path_factory, shared_cache_dir) -> Path:
    """One run of ``genlab lab all --preset tiny`` on MNIST, shared by the tests below."""
    out = tmp_path_factory.mktemp("lab-all")
    assert lab_all_command(out, mnist_subset_dir, shared_cache_dir) == 0
    return out


def summary(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["summary"][0]


def test_lab_all_writes_every_task_and_one_row_per_model(lab_all):
    for task in TASKS:
        assert (lab_all / task / "report.html").is_file(), task
    table = summary(lab_all)
    assert table["columns"] == SUMMARY_COLUMNS
    rows = {row[0]: dict(zip(table["columns"], row)) for row in table["rows"]}
    assert list(rows) == MODELS
    methods = [rows[m]["obtained by"] for m in MODELS]
    assert methods == ["ais", "bound", "bound", "iwae", "iwae", "n/a"]
    assert rows["DCGAN"]["test log-likelihood (nats)"] is None
    for model, row in rows.items():  # every model's samples measured; the log-likelihoods are finite and negative
        assert row["FCD"] > 0 and 1 <= row["classifier score"] <= 10, model
        assert row["parameters"] > 0 and float(row["training time (s)"]) >= 0, model  # tiny runs may show 0.0 s
        if row["test log-likelihood (nats)"] is not None:
            assert -800 < row["test log-likelihood (nats)"] < 0, model
    md = (lab_all / "report.md").read_text()
    assert md.index("Every model on the same measurements") < md.index("Task 1")
    assert (lab_all / "figures" / "samples_side_by_side.png").read_bytes()[:4] == b"\x89PNG"


def test_lab_all_is_resumable_without_training_or_evaluating_again(lab_all, mnist_subset_dir, shared_cache_dir):
    runs = sorted((lab_all / "runs").iterdir())
    stamps = [(r / name).stat().st_mtime_ns for r in runs for name in ("model.safetensors", "eval.json") if (r / name).exists()]
    assert lab_all_command(lab_all, mnist_subset_dir, shared_cache_dir) == 0
    assert sorted((lab_all / "runs").iterdir()) == runs
    assert [(r / name).stat().st_mtime_ns for r in runs for name in ("model.safetensors", "eval.json") if (r / name).exists()] == stamps


@pytest.mark.browser
def test_lab_all_report_renders_in_chromium(lab_all):
    seen = check_in_browser(lab_all / "report.html", ARTIFACTS / "lab-all-tiny.png")
    assert len(seen["widths"]) >= 10 and all(w > 0 for w in seen["widths"]), seen["widths"]
    assert seen["errors"] == []
    assert seen["tables"] >= 1 + len(TASKS)  # the cross-model table and at least one per task


def test_sample_quality_is_compared_at_one_sample_count(lab_all, monkeypatch, shared_cache_dir):
    from genlab.lab.all import at_equal_sample_count, headline_runs
    from genlab.lab.core import Lab

    monkeypatch.setenv("GENLAB_CACHE_DIR", str(shared_cache_dir))  # the classifier trained above
    models = headline_runs([lab_all / task for task in TASKS])
    name, run = models[-1]
    measured = run.read_eval()
    run.read_eval = lambda: {**measured, "metric_samples": 2 * measured["metric_samples"], "frechet_classifier_distance": -1.0}  # as if measured at 1,000
    evals, n, test = at_equal_sample_count(models, Lab(lab_all, "tiny", "cpu", None, progress=False))
    assert (n, test) == (measured["metric_samples"], measured["metric_test_images"]) == (500, 500)
    assert evals[name]["metric_samples"] == 500 and evals[name]["frechet_classifier_distance"] == pytest.approx(measured["frechet_classifier_distance"], rel=1e-6)
    floors = {(tuple(ev["metric_sample_size"]), ev["frechet_classifier_distance_floor"]) for ev in evals.values()}
    assert len(floors) == len({size for size, _ in floors}) == 2  # one floor per image size (28x28, 64x64)


def test_no_report_holds_an_unformatted_placeholder_and_pages_link_their_figures(lab_all):
    pages = [lab_all / "report.md", lab_all / "report.html", *lab_all.glob("*/report.md"), *lab_all.glob("*/report.html")]
    assert len(pages) == 12
    for page in pages:
        assert unformatted_placeholders(page.read_text()) == [], page
    combined = (lab_all / "report.html").read_text()
    assert "base64" not in combined and len(combined) < 500_000 and combined.count('<nav class="toc">') == 1


def test_every_question_of_the_lab_is_answered_with_this_runs_numbers(lab_all):
    answered = {}
    for task in TASKS:
        for s in json.loads((lab_all / task / "results.json").read_text())["sections"]:
            if number(s["title"]):
                answered[number(s["title"])] = s
    assert sorted(answered) == sorted(QUESTIONS)
    for n, s in answered.items():
        assert s["question"] == QUESTIONS[n], n
        assert s["answer"] and re.search(r"\d", " ".join(s["answer"])), n  # prose that cites a number of this run
    assert (lab_all / "report.md").read_text().count("**Answer.**") == len(QUESTIONS)


@pytest.mark.browser
def test_lab_all_report_prints_to_a_pdf_with_each_task_on_new_pages(lab_all):
    need_browser()
    pdf = print_pdf(lab_all / "report.html", lab_all / "report.pdf")
    assert pdf_pages(pdf) >= 1 + len(TASKS)
