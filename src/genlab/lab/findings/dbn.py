"""What the DBN labs (SPEC tasks 2 and 3) report from their measurements: tables and the numbers' text."""

from __future__ import annotations

from typing import Any

from genlab.lab.report import Table
from genlab.models.dbn import BeliefNet
from genlab.runs import Run


COLUMNS = [  # (eval.json key, column title)
    ("test_loglik", "test log p(v) [nats]"),
    ("test_loglik_method", "method"),
    ("test_loglik_iw", "IS estimate [nats]"),
    ("recon_error", "recon error"),
    ("probe_accuracy", "probe accuracy"),
    ("frechet_classifier_distance", "FCD"),
    ("classifier_score", "classifier score"),
    ("n_params", "parameters"),
]


def comparison_table(title: str, rows: list[tuple[str, Run | None, dict[str, Any]]], note: str = "") -> Table:
    """One row per model with the numbers its eval.json has; a column appears when any row has it."""
    keys = [(k, c) for k, c in COLUMNS if any(r.get(k) is not None for _, _, r in rows)]
    table_rows = []
    for name, run, results in rows:
        train_time = None if run is None or "train_time_s" not in run.meta else f"{run.meta['train_time_s']:.1f}"
        table_rows.append([name, *[results.get(k) for k, _ in keys], train_time])
    return Table(title, ["model", *[c for _, c in keys], "train time [s]"], table_rows, note)


def layers(model: BeliefNet) -> str:
    return f"{model.n_visible}-{model.n_h1}-{model.n_h2}"


def loglik_text(results: dict[str, Any]) -> str:
    """'-98.2 nats (ais, -98.5 .. -97.9)' for a table note or observation."""
    low, high = results.get("test_loglik_low"), results.get("test_loglik_high")
    interval = f", {low:.2f} .. {high:.2f}" if low is not None and high is not None and high - low > 0.005 else ""
    return f"{results['test_loglik']:.2f} nats ({results['test_loglik_method']}{interval})"
