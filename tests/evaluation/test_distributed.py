"""A distributed evaluation over two gloo processes gives the numbers of one process.

Every estimator is run once by two ranks (each taking its share of the chains, images or samples)
and once in this process, from the same seed; the ranks draw the random numbers one process draws,
so the results agree to float tolerance, not merely within the estimators' error.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from helpers import write_idx

import genlab
from genlab import distributed
from genlab.evaluation.ais import ais_log_z, log_z_floor
from genlab.evaluation.dbn import variational_bound
from genlab.evaluation.reverse_ais import raise_log_prob
from genlab.evaluation.shards import split_rows
from genlab.evaluation.vae import iwae, mean_elbo, posterior
from genlab.metrics.classifier import Classifier, ClassifierConfig
from genlab.metrics.quality import classify, draw_samples
from genlab.models.dbn import DBN
from genlab.models.rbm import RBM
from genlab.models.vae import VAE
from genlab.rng import make_generator
from genlab.runs import Run

N_VISIBLE = 16


def models() -> tuple[RBM, DBN, VAE, Classifier]:
    """Small models with weights large enough for the estimators' results to depend on every draw."""
    g = make_generator(1)
    rbm = RBM.from_tensors({"W": torch.randn(N_VISIBLE, 12, generator=g) / 2,
                            "v_bias": torch.randn(N_VISIBLE, generator=g), "h_bias": torch.randn(12, generator=g)})
    top = RBM.from_tensors({"W": torch.randn(12, 5, generator=g), "v_bias": torch.randn(12, generator=g),
                            "h_bias": torch.randn(5, generator=g)})
    vae = VAE(N_VISIBLE, latent=3, hidden=(10,), generator=g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        classifier = Classifier((4, 4), 3, ClassifierConfig(channels1=2, channels2=3, features=5)).eval()
    return rbm, DBN(rbm, top), vae, classifier


def images(n: int) -> torch.Tensor:
    """n binary images of N_VISIBLE pixels (a fixed sample)."""
    return torch.rand(n, N_VISIBLE, generator=make_generator(2)).lt(0.4).float()


def estimates() -> dict[str, Any]:
    """Each estimator's result, from the seed 0 (what each rank, and one process, computes). Of 11 images rank 0
    has 6 and rank 1 has 5, and of 7 samples 4 and 3: each estimator has a chunk of images that both ranks share."""
    rbm, dbn, vae, classifier = models()
    v = images(11)
    base = torch.linspace(-1, 1, N_VISIBLE)
    ais = ais_log_z(rbm, base, runs=11, betas=40, generator=make_generator(0))
    bound = variational_bound(dbn, v, log_z=3.0, samples=4, generator=make_generator(0), chunk=4)
    return {
        "ais": [ais.log_z, ais.log_z_low, ais.log_z_high],
        "floor": log_z_floor(rbm, v, chains=7, steps=5, generator=make_generator(0)),  # 3 chains from the data
        "raise": raise_log_prob(rbm, v, base, betas=30, runs=2, generator=make_generator(0)).tolist(),
        "bound": [bound.bound.tolist(), bound.iw.tolist(), bound.mc_se],
        "iwae": iwae(vae, v, k=4, generator=make_generator(0), max_rows=20).tolist(),  # 5 images a chunk
        "iwae_large_k": iwae(vae, v, k=20, generator=make_generator(0), max_rows=8).tolist(),  # 8 samples a chunk
        "elbo": mean_elbo(vae, v, make_generator(0), chunk=4),
        "posterior": [t.tolist() for t in posterior(vae, v, chunk=4)],
        "features": split_rows(rbm.p_h, v).tolist(),
        "rbm_samples": draw_samples(rbm, 7, make_generator(0), (4, 4), chunk=3).tolist(),
        "vae_samples": draw_samples(vae, 7, make_generator(0), (4, 4), chunk=3).tolist(),
        "classified": [t.tolist() for t in classify(classifier, v.reshape(-1, 1, 4, 4), chunk=4)],
    }


EVAL_OPTIONS = {"ais_runs": 5, "ais_betas": 30, "raise_betas": 20, "samples": 0, "device": "cpu",
                "progress": False}
TIMINGS = ("eval_time_s", "iwae_time_s", "iwae_ms_per_image", "sample_time_s")


def on_rank(rank: int, port: int, run_dir: str, results) -> None:
    """Rank ``rank`` of two: every estimate, then ``genlab.evaluate`` of the run (which joins the group, as under
    torchrun), recording which ranks write eval.json."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    writers = []
    write_eval = Run.write_eval

    def recorded_write_eval(run: Run, numbers: dict[str, Any]) -> Path:
        writers.append(rank)
        return write_eval(run, numbers)

    Run.write_eval = recorded_write_eval
    evaluated = genlab.evaluate(run_dir, **EVAL_OPTIONS)
    results[rank] = {"estimates": estimates(), "evaluated": evaluated, "writers": writers}
    distributed.teardown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Iterator[Path]:
    """A genlab cache and home of this module's own (the module's fixtures outlive each test's)."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("home")
        patch.setenv("HOME", str(home))
        patch.setenv("GENLAB_CACHE_DIR", str(home / "cache"))
        yield home


@pytest.fixture(scope="module")
def rbm_run(cache, tmp_path_factory) -> Run:
    """An RBM with more than 20 units in each layer, so that its log Z comes from AIS, on 6x6 images (few
    pixels keep the Gibbs chains of the certain lower bound on log Z quick)."""
    dataset, g = tmp_path_factory.mktemp("tiny"), make_generator(0)
    for split, n in (("train", 200), ("t10k", 40)):
        pixels = (torch.rand(n, 6, 6, generator=g) ** 3 * 255).to(torch.uint8)
        write_idx(dataset / f"{split}-images-idx3-ubyte.gz", pixels)
        write_idx(dataset / f"{split}-labels-idx1-ubyte.gz", torch.arange(n) % 10)
    return genlab.train("rbm", tmp_path_factory.mktemp("runs") / "rbm", dataset=dataset, hidden=24, epochs=1,
                        device="cpu", progress=False)


@pytest.fixture(scope="module")
def two_ranks(rbm_run) -> dict[str, Any]:
    """What each of two gloo processes computed, and the eval.json they left."""
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(on_rank, args=(free_port(), str(rbm_run.path), results), nprocs=2, join=True)
        ranks = [results[0], results[1]]
    return {"ranks": ranks, "eval.json": json.loads((rbm_run.path / "eval.json").read_text())}


@pytest.fixture(scope="module")
def one_process() -> dict[str, Any]:
    return estimates()


def flat(value: Any) -> list[Any]:
    """The numbers of nested lists, in order."""
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


def agree(got: Any, expected: Any) -> bool:
    """Equal, numbers to a relative 1e-6 or, near zero, an absolute 1e-6 (float tolerance: the ranks multiply
    fewer rows at once, and float32 values of order one round at about 1e-7 an operation: a posterior mean of
    -0.0186 differed by 3e-8 on a CPU with AVX-512)."""
    if isinstance(expected, float) and isinstance(got, float):
        return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6)
    return got == expected


@pytest.mark.parametrize("name", ["ais", "floor", "raise", "bound", "iwae", "iwae_large_k", "elbo", "posterior",
                                  "features", "rbm_samples", "vae_samples", "classified"])
def test_two_ranks_give_every_estimate_of_one_process(two_ranks, one_process, name) -> None:
    expected = flat(one_process[name])
    for rank, results in enumerate(two_ranks["ranks"]):
        got = flat(results["estimates"][name])
        assert len(got) == len(expected)
        assert all(agree(a, b) for a, b in zip(got, expected)), f"{name} on rank {rank}: {got} != {expected}"


def test_the_estimates_depend_on_the_seed(one_process) -> None:
    """The comparisons above can fail: other chains give another estimate."""
    rbm = models()[0]
    other = ais_log_z(rbm, torch.linspace(-1, 1, N_VISIBLE), runs=11, betas=40, generator=make_generator(5))
    assert not agree(other.log_z, one_process["ais"][0])


def test_evaluate_under_two_ranks_writes_the_eval_json_of_one_process_from_rank_0(two_ranks, rbm_run) -> None:
    alone = genlab.evaluate(rbm_run, **EVAL_OPTIONS)
    assert [results["writers"] for results in two_ranks["ranks"]] == [[0], []]
    assert alone["test_loglik_method"] == "ais" and alone["conservative_method"] == "raise"
    for numbers in (two_ranks["eval.json"], *(results["evaluated"] for results in two_ranks["ranks"])):
        assert numbers.keys() == alone.keys()
        assert [key for key in alone if key not in TIMINGS and not agree(numbers[key], alone[key])] == []
