"""Notes in plain words for the numbers of an eval.json that need them: an interval with only one side,
and an evaluation made with ``--quick``.

A log-likelihood estimated with AIS comes with an interval (``test_loglik_low`` .. ``test_loglik_high``)
from the interval of log Z (:func:`genlab.evaluation.ais.log_partition`). Either end can be missing:

* the upper end of log Z, when the states Gibbs chains visit prove log Z larger than both AIS
  estimates allow (AIS missed part of the model's probability mass): then the log-likelihood has no
  lower end;
* the lower end of log Z, when the AIS runs' weights are so spread out that mean - 3 standard errors
  is not positive: then the log-likelihood has no upper end.

eval.json then holds ``null`` for that end, and these notes say why and what to do about it.
"""

from __future__ import annotations

from typing import Any

from genlab.evaluation.config import QUICK_TEST_STRIDE, EvalConfig

MORE_AIS = "AIS runs or distributions (e.g. genlab eval RUN --ais-runs 500 --ais-betas 50000)"


def what_is_measured(results: dict[str, Any]) -> str:
    """'the test log-likelihood', or for a DBN 'the variational bound on the test log-likelihood'."""
    if results.get("test_loglik_method") == "bound":
        return "the variational bound on the test log-likelihood"
    return "the test log-likelihood"


def no_upper_end_of_log_z(results: dict[str, Any]) -> str:
    """The note for a log Z that Gibbs sampling proved larger than both AIS estimates."""
    return (
        f"test_loglik_low is null: {what_is_measured(results)} is at most {results['test_loglik']:.2f} nats, "
        "but how far below that it lies is unknown. log Z, the model's normalising constant, was estimated "
        f"twice by AIS ({results['log_z_ais_visible']:.1f} annealing over the visible units, "
        f"{results['log_z_ais_hidden']:.1f} over the hidden units), and the states that Gibbs chains visited prove "
        f"log Z is at least {results['log_z_floor']:.1f}, above both: AIS missed part of the model's probability "
        f"mass, so its error bars do not hold and log Z has no known upper end. With more {MORE_AIS}, AIS may find "
        "that mass; longer chains (--floor-steps) may raise the floor." + raise_estimate(results)
    )


def raise_estimate(results: dict[str, Any]) -> str:
    """' RAISE's estimate from below ... is X nats.' when eval.json has one (else nothing)."""
    if results.get("conservative_method") != "raise":
        return ""
    return f" RAISE's estimate from below (test_loglik_conservative) is {results['test_loglik_conservative']:.2f} nats."


def no_lower_end_of_log_z(results: dict[str, Any]) -> str:
    """The note for AIS weights so spread out that log Z has no lower end."""
    return (
        f"test_loglik_high is null: {what_is_measured(results)} is at least {results['test_loglik_low']:.2f} nats "
        "(within AIS's error bars), but how far above that it lies is unknown. The AIS runs that estimate log Z, "
        f"the model's normalising constant, disagreed so much ({results.get('ais_runs')} runs) that its error bar "
        f"(3 standard errors) reaches down to Z = 0, so log Z has no lower end. More {MORE_AIS} "
        "narrow the error bar."
    )


def no_bracket(results: dict[str, Any]) -> str:
    """The note for a RAISE estimate above AIS's: the two do not bracket the log-likelihood."""
    return (
        f"test_loglik_conservative ({results['test_loglik_conservative']:.2f} nats, RAISE) lies above "
        f"{what_is_measured(results)} by AIS ({results['test_loglik']:.2f}): the two do not bracket the true value. "
        "Both anneal along one path from a simple model to this one, and RAISE is conservative only for the model "
        "that path reaches; when the path misses part of the model's probability mass (here AIS over the visible "
        f"units gave log Z {results['log_z_ais_visible']:.1f}, over the hidden units {results['log_z_ais_hidden']:.1f}), "
        f"both numbers can be too high. More {MORE_AIS}, and more RAISE distributions (--raise-betas), narrow the gap."
    )


def interval_notes(results: dict[str, Any]) -> list[str]:
    """A note for each end of the log-likelihood's interval that is missing (none for an exact log Z), and
    one when RAISE's estimate from below lies above AIS's."""
    if "log_z_high" not in results or "test_loglik" not in results:
        return []
    notes = []
    if results["log_z_high"] is None:
        notes.append(no_upper_end_of_log_z(results))
    if results["log_z_low"] is None:
        notes.append(no_lower_end_of_log_z(results))
    if results.get("conservative_method") == "raise" and results["test_loglik_conservative"] > results["test_loglik"]:
        notes.append(no_bracket(results))
    return notes


def quick_note(config: EvalConfig) -> list[str]:
    """The note of an evaluation made with --quick (none otherwise)."""
    if not config.quick:
        return []
    test = f"the first {config.test_limit:,}" if config.test_limit else f"every {QUICK_TEST_STRIDE}th"
    return [
        f"A quick evaluation (--quick): AIS of {config.ais_runs} x {config.ais_betas:,}, RAISE of {config.raise_betas:,}, "
        f"IWAE k = {config.iwae_k:,}, "
        f"{config.samples:,} samples and {test} test image; its numbers are less precise than a default "
        "evaluation's and compare only with other quick evaluations."
    ]
