"""benchmarks/lab_costs.py: the costs behind genlab.lab.budget's table, pooled over several labs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lab_costs.py"


@pytest.fixture(scope="module")
def lab_costs():
    spec = importlib.util.spec_from_file_location("lab_costs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(path: str, epoch_s: float, epochs: int, images: int = 60_000, start_s: float = 0.0, eval_s: float = 0.0,
        evaluation: str = "quick") -> dict:
    return {"path": path, "epoch_s": epoch_s, "epochs": epochs, "images": images, "start_s": start_s, "eval_s": eval_s,
            "eval": evaluation}


def test_pooled_epochs_weigh_each_lab_by_the_later_epochs_it_measured(lab_costs):
    quick = {"a": row("kernel", 0.6, 11, start_s=40.0, eval_s=20.0)}  # 10 later epochs
    cpu = {"a": row("kernel", 0.3, 31, start_s=20.0, eval_s=10.0)}  # 30 later epochs
    pooled = lab_costs.pooled([quick, cpu])
    assert pooled["a"]["kernel"]["epoch_s"] == pytest.approx((0.6 * 10 + 0.3 * 30) / 40)
    assert pooled["a"]["kernel"]["start_s"] == pytest.approx(30.0)
    assert pooled["a"]["kernel"]["eval_s"] == {"quick": pytest.approx(15.0)}


def test_pooled_evaluations_are_averaged_apart_by_their_sizes(lab_costs):
    quick = {"a": row("kernel", 0.6, 11, eval_s=20.0), "b": row("kernel", 0.6, 11, eval_s=30.0)}
    cpu = {"a": row("kernel", 0.3, 31, eval_s=50.0, evaluation="AIS 14500")}
    pooled = lab_costs.pooled([quick, cpu])
    assert pooled["a"]["kernel"]["eval_s"] == {"quick": pytest.approx(20.0), "AIS 14500": pytest.approx(50.0)}
    assert lab_costs.sizes({"ais_runs": 100, "ais_betas": 14500, "raise_betas": 300, "iwae_k": 5000, "samples": 1000,
                            "quick": True, "test_limit": None}) == \
        "AIS 100 x 14500, RAISE 300, IWAE 5000, 1000 samples, every 5th test image"


def test_pooled_keeps_each_path_apart_and_counts_a_part_epoch_by_its_images(lab_costs):
    quick = {"k=3": row("plain", 2.0, 5), "gan": row("-", 1000.0, 1, images=6_000)}
    cpu = {"k=3": row("steps", 1.2, 76, start_s=48.0), "gan": row("-", 900.0, 1, images=12_000)}
    pooled = lab_costs.pooled([quick, cpu])
    assert pooled["k=3"]["plain"]["epoch_s"] == pytest.approx(2.0)
    assert pooled["k=3"]["steps"]["epoch_s"] == pytest.approx(1.2)
    assert pooled["k=3"]["steps"]["start_s"] == pytest.approx(48.0)
    # one epoch of 6,000 and one of 12,000 images: a tenth and a fifth of an epoch of the whole set
    assert pooled["gan"]["-"]["epoch_s"] == pytest.approx((1000.0 * 0.1 + 900.0 * 0.2) / 0.3)
