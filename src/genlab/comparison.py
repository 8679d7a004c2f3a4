"""Runs side by side (``genlab compare``): the options that differ between them and their eval.json numbers.

:func:`compare` gives one row per run, a dict of the same columns for every run: ``run`` (its
directory), ``family``, each training option whose value is not the same in every run, each evaluation
option that differs between the runs that have an eval.json (``eval.NAME``; ``eval.quick`` whenever an
evaluation was quick), and the numbers of eval.json that any of the runs has, in the order of
:data:`NUMBERS`, then the ``protocol`` of their log-likelihoods in one line. What a run lacks (no eval.json yet, an option of another family) is None.
:func:`table_text` and :func:`write_csv` show the rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genlab.evaluation.protocol import protocol_line
from genlab.files import write_bytes
from genlab.runs import Run

# eval.json's numbers that a comparison shows, in this order
NUMBERS = (
    "test_loglik", "test_loglik_low", "test_loglik_high", "test_loglik_method", "test_loglik_conservative", "train_loglik",
    "test_elbo", "test_iwae", "test_loglik_iw", "train_elbo", "recon_error", "probe_accuracy", "active_units",
    "frechet_classifier_distance", "frechet_classifier_distance_floor", "classifier_score", "coverage", "metric_samples", "n_params", "test_images", "eval_time_s",
)
MISSING = "-"  # how the table shows a value a run lacks


def compare(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One dict per run, with the same keys in the same order for every run (see the module's docstring)."""
    configs = [scalars(run.config) for run in runs]
    evals = [run.read_eval() or {} for run in runs]
    eval_configs = [scalars(e["eval_config"]) for e in evals if isinstance(e.get("eval_config"), dict)]
    rows = []
    for run, config, results in zip(runs, configs, evals):
        eval_config = scalars(results.get("eval_config") or {})
        row: dict[str, Any] = {"run": str(run.path), "family": run.family}
        row.update({name: config.get(name) for name in differing(configs)})
        row.update({f"eval.{name}": eval_config.get(name) for name in eval_options(eval_configs)})
        row.update({name: results.get(name) for name in NUMBERS if any(name in e for e in evals)})
        if any("protocol" in e for e in evals):  # how the log-likelihoods were measured, in one line
            row["protocol"] = protocol_line(results["protocol"]) if "protocol" in results else None
        rows.append(row)
    return rows


def scalars(config: dict[str, Any]) -> dict[str, Any]:
    """A config's values as one cell each: numbers, strings, booleans and None as they are, others as JSON."""
    return {name: value if value is None or isinstance(value, str | int | float | bool) else json.dumps(value)
            for name, value in config.items()}


def differing(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The names whose value (or absence) is not the same in every config, in the order they first appear."""
    names = list(dict.fromkeys(name for config in configs for name in config))
    return [name for name in names if len({json.dumps(config.get(name)) for config in configs}) > 1]


def eval_options(eval_configs: Sequence[dict[str, Any]]) -> list[str]:
    """The evaluation options a comparison shows: those that differ, and ``quick`` when any evaluation was quick
    (its numbers are less precise)."""
    names = differing(eval_configs)
    if "quick" not in names and any(config.get("quick") for config in eval_configs):
        names.append("quick")
    return names


def cell(value: Any) -> str:
    """A value as the terminal table shows it: 6 significant digits, "-" when missing."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table_text(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a terminal table: one line per column of the rows (runs side by side, as columns)."""
    names = list(rows[0])
    lines = [[name, *(cell(row[name]) for row in rows)] for name in names]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in lines)


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """The rows as a CSV file, one line per run with a header of the names, atomically; missing values empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: "" if value is None else value for name, value in row.items()} for row in rows)
    return write_bytes(Path(path), out.getvalue().encode())
