"""The protocol of a log-likelihood: what was measured, on which data, by which estimator.

Published MNIST log-likelihoods differ by about 2 nats between static binarisation (one fixed sample of
the data) and dynamic binarisation (a fresh sample every minibatch), and more between estimators, so a
number is comparable only to numbers of the same protocol. :func:`protocol` writes it down beside every
log-likelihood of ``eval.json``; :func:`protocol_line` is its one-line form for tables and reports.
"""

from __future__ import annotations

from typing import Any

from genlab.data import BINARIZE_SEED
from genlab.evaluation.config import QUICK_TEST_STRIDE, EvalConfig


def training_binarisation(family: str, train_config: dict[str, Any]) -> str:
    """How the training images were made binary: ``dynamic`` (a fresh Bernoulli sample of the pixels every
    minibatch) or ``none`` (the grey values themselves)."""
    if family == "rbm":
        return "dynamic" if train_config.get("binarize", True) else "none"
    if family == "vae":
        return "dynamic" if train_config.get("targets") == "binarized" else "none"
    return "dynamic"  # a DBN's layers and up-down fine-tuning sample v from the pixels every minibatch


def estimator(results: dict[str, Any]) -> str:
    """The estimator of ``test_loglik`` with its sample counts, e.g. 'AIS, 100 runs x 14,500 distributions'."""
    method = results.get("test_loglik_method")
    if method == "exact":
        return "exact (every hidden state summed)"
    if method == "ais":
        return f"AIS, {results['ais_runs']:,} runs x {results['ais_betas']:,} distributions{_floor(results)}"
    if method == "bound":
        return (f"variational lower bound, {results['bound_samples']:,} samples of q(h1|v) per image, log Z of the top "
                f"RBM by {_log_z(results)}")
    if method == "iwae":
        return f"IWAE, k = {results['iwae_k']:,} importance samples per image"
    return str(method)


def _log_z(results: dict[str, Any]) -> str:
    if results.get("log_z_method") == "ais":
        return f"AIS ({results['ais_runs']:,} runs x {results['ais_betas']:,} distributions{_floor(results)})"
    return str(results.get("log_z_method", "exact enumeration"))


def _floor(results: dict[str, Any]) -> str:
    """', floor: 1,000 Gibbs chains x 1,000 steps' where the results record log Z's floor (genlab 0.3.6 on)."""
    if "floor_steps" not in results:
        return ""
    return f", floor: {results['floor_chains']:,} Gibbs chains x {results['floor_steps']:,} steps"


def conservative_estimator(results: dict[str, Any]) -> str | None:
    method = results.get("conservative_method")
    if method == "raise":
        runs = results.get("raise_runs", 1)
        return f"RAISE, {results['raise_betas']:,} distributions, {runs:,} walk{'' if runs == 1 else 's'} per image"
    return method


# AIS's estimate of Z is unbiased, so (Markov's inequality) it exceeds e^t Z with probability under e^-t: the model's
# test log-likelihood lies below the AIS estimate + t with probability above 1 - e^-t; t = 3 nats: 95%.
AIS_MARGIN = 3.0


def conservative_above_model(results: dict[str, Any]) -> bool:
    """Whether the conservative estimate lies where the model's log-likelihood is not: more than
    :data:`AIS_MARGIN` nats above the AIS (or exact) estimate. RAISE bounds the log-likelihood of its
    annealing path's model, which with too few distributions can be far from the RBM (measured: 30 to
    85 nats above AIS for CD-1 RBMs whose Gibbs chains mix poorly, at 300 distributions)."""
    conservative = results.get("test_loglik_conservative")
    if conservative is None or results.get("test_loglik_method") not in ("ais", "exact"):
        return False
    return conservative > results["test_loglik"] + AIS_MARGIN


def conservative_caveat(labelled: dict[str, dict[str, Any]]) -> str:
    """A table note's warning naming the rows (label -> eval.json) whose conservative estimate is no bound
    (:func:`conservative_above_model`); empty when there is none."""
    above = [label for label, results in labelled.items() if conservative_above_model(results)]
    if not above:
        return ""
    return (f"The conservative estimate of {', '.join(above)} lies more than {AIS_MARGIN:.0f} nats above the AIS "
            "estimate, where the model's log-likelihood lies with probability under 5% (AIS's Z is unbiased): RAISE "
            "bounds the log-likelihood of its annealing path, which with this few distributions is far from an RBM "
            "whose Gibbs chains mix poorly, so there it is no lower bound; more distributions (genlab eval "
            "--raise-betas) bring the path closer.")


def interval_text(results: dict[str, Any]) -> str:
    """The test log-likelihood's interval as a table shows it: "exact" for an exact log Z, "n/a" where the
    estimator gives none (IWAE), else "[low, high]"."""
    if results.get("test_loglik_method") == "exact":
        return "exact"
    if results.get("test_loglik_method") == "iwae":
        return "n/a"
    low, high = results.get("test_loglik_low"), results.get("test_loglik_high")
    return "[" + ", ".join("n/a" if x is None else f"{x:.2f}" for x in (low, high)) + "]"


def protocol(family: str, train_config: dict[str, Any], results: dict[str, Any], config: EvalConfig,
             test_images: int, test_total: int) -> dict[str, Any]:
    """The protocol of the log-likelihoods in ``results`` (the numbers of one evaluation)."""
    if config.test_limit is not None:
        selection = f"the first {test_images:,}"
    elif config.quick:
        selection = f"every {QUICK_TEST_STRIDE}th ({test_images:,})"
    else:
        selection = f"all {test_images:,}"
    out: dict[str, Any] = {
        "test_split": f"test set of {test_total:,} images, {selection} measured",
        "test_binarisation": f"static (one Bernoulli sample of the pixels, seed {BINARIZE_SEED})",
        "training_binarisation": training_binarisation(family, train_config),
        "estimator": estimator(results),
    }
    conservative = conservative_estimator(results)
    if conservative is not None:
        out["conservative_estimator"] = conservative
    return out


def protocol_line(p: dict[str, Any]) -> str:
    """The protocol in one line, e.g. 'static test binarisation, trained dynamic; all 10,000 test images; AIS, ...'."""
    split = p["test_split"].split(", ", 1)[-1].removesuffix(" measured")
    line = f"static test binarisation, trained {p['training_binarisation']}; {split} test images; {p['estimator']}"
    if "conservative_estimator" in p:
        line += f"; conservative: {p['conservative_estimator']}"
    return line


def protocol_note(labelled: dict[str, dict[str, Any]]) -> str:
    """A table note giving the protocol of each row's log-likelihoods (label -> eval.json), one sentence per
    distinct protocol: 'Protocol: ...' when the rows share one, else 'Protocol of a, b: ...; of c: ...'; then
    the :func:`conservative_caveat` of the rows."""
    by_line: dict[str, list[str]] = {}
    for label, results in labelled.items():
        if "protocol" in results:
            by_line.setdefault(protocol_line(results["protocol"]), []).append(label)
    if len(by_line) == 1:
        note = f"Protocol: {next(iter(by_line))}."
    else:
        note = "; ".join(f"Protocol of {', '.join(labels)}: {line}" for line, labels in by_line.items()) + ("." if by_line else "")
    return " ".join(part for part in (note, conservative_caveat(labelled)) if part)
