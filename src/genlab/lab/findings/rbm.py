"""What the RBM lab (SPEC task 1) reports from its measurements: tables and observations computed from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlab import data
from genlab.data import ImageSet
from genlab.lab.report import Table, form, plural
from genlab.models.rbm import RBM
from genlab.rng import make_generator
from genlab.runs import Run


@dataclass
class Result:
    """One trained and evaluated variant."""

    label: str
    run: Run
    eval: dict[str, Any]
    model: RBM

    @property
    def train_time(self) -> float:
        return float(self.run.meta["train_time_s"])


OPTIONAL_COLUMNS = {"frechet_classifier_distance": "FCD", "classifier_score": "classifier score"}


def table(title: str, rs: list[Result], note: str) -> Table:
    """One row per variant: test log-likelihood with its method and interval, recon error, probe, time."""
    extra = [key for key in OPTIONAL_COLUMNS if any(key in r.eval for r in rs)]
    columns = ["variant", "test log-lik (nats)", "interval", "method", "train log-lik", "recon error", "probe accuracy", "train time (s)"]
    rows = []
    for r in rs:
        e = r.eval
        rows.append([
            r.label, e["test_loglik"], _interval(e), _method(e), e["train_loglik"], e["recon_error"], e["probe_accuracy"],
            f"{r.train_time:.1f}", *(e.get(key) for key in extra),
        ])
    return Table(title, columns + [OPTIONAL_COLUMNS[k] for k in extra], rows, note=note)


def _interval(e: dict[str, Any]) -> str:
    if e["test_loglik_method"] == "exact":
        return "exact"
    low, high = e.get("test_loglik_low"), e.get("test_loglik_high")
    return "[" + ", ".join("n/a" if x is None else f"{x:.2f}" for x in (low, high)) + "]"


def _method(e: dict[str, Any]) -> str:
    if e["test_loglik_method"] == "ais":
        return f"AIS {e['ais_runs']}x{e['ais_betas']:,}"
    return e["test_loglik_method"]


def _resolved(better: Result, worse: Result) -> str:
    """'.' when better's interval lies wholly above worse's, else why the ranking rests on the point estimates."""
    high, low = worse.eval.get("test_loglik_high"), better.eval.get("test_loglik_low")
    if high is None:
        return (f"; {worse.label}'s AIS interval has no upper end (the mean importance weight minus 3 standard "
                "errors is not positive), so the ranking rests on the point estimates.")
    if low is None:
        return (f"; {better.label}'s AIS interval has no lower end (a Gibbs state showed log Z above it), "
                "so the ranking rests on the point estimates.")
    if low > high:
        return "."
    return "; the intervals overlap, so the difference is not resolved."


def compare(rs: list[Result]) -> list[str]:
    """What the numbers of a comparison say, in sentences computed from them."""
    if len(rs) < 2:
        return []
    first = rs[0]
    by_ll = sorted(rs, key=lambda r: r.eval["test_loglik"], reverse=True)
    best, worst = by_ll[0], by_ll[-1]
    out = []
    other = by_ll[1] if best is first else first  # the runner-up, or the first variant listed
    out.append(f"{best.label} gave the highest test log-likelihood ({best.eval['test_loglik']:.2f} nats), "
               f"{best.eval['test_loglik'] - other.eval['test_loglik']:.2f} nats above "
               f"{'the next best, ' if best is first else ''}{other.label} ({other.eval['test_loglik']:.2f})"
               + _resolved(best, other))
    out.append(f"The lowest was {worst.label} ({worst.eval['test_loglik']:.2f} nats, "
               f"{best.eval['test_loglik'] - worst.eval['test_loglik']:.2f} below the best).")
    gaps = {r.label: r.eval["train_loglik"] - r.eval["test_loglik"] for r in rs}
    widest = max(gaps, key=gaps.get)
    out.append(f"Train minus test log-likelihood (overfitting gap) ranged from {min(gaps.values()):.2f} to "
               f"{gaps[widest]:.2f} nats ({widest}).")
    by_recon = min(rs, key=lambda r: r.eval["recon_error"])
    by_probe = max(rs, key=lambda r: r.eval["probe_accuracy"])
    out.append(f"Lowest reconstruction error: {by_recon.label} ({by_recon.eval['recon_error']:.4f} vs "
               f"{max(r.eval['recon_error'] for r in rs):.4f} at worst)"
               + ("." if by_recon is best else f"; it is not the variant with the highest log-likelihood ({best.label}), "
                  "so reconstruction error is no proxy for likelihood."))
    out.append(f"Best probe accuracy: {by_probe.label} ({by_probe.eval['probe_accuracy']:.2%} vs "
               f"{min(r.eval['probe_accuracy'] for r in rs):.2%} at worst).")
    slow, fast = max(rs, key=lambda r: r.train_time), min(rs, key=lambda r: r.train_time)
    out.append(f"Training took {fast.train_time:.0f} s ({fast.label}) to {slow.train_time:.0f} s ({slow.label}), "
               f"{slow.train_time / max(fast.train_time, 1e-9):.1f}x.")
    return out


def reference_observations(ref: Result) -> list[str]:
    e = ref.eval
    out = [f"Test log-likelihood {e['test_loglik']:.2f} nats ({_method(e)}, interval {_interval(e)}), train "
           f"{e['train_loglik']:.2f}: an overfitting gap of {e['train_loglik'] - e['test_loglik']:.2f} nats."]
    out.append(f"Reconstruction error {e['recon_error']:.4f} per pixel; a linear probe on p(h|v) reaches "
               f"{e['probe_accuracy']:.2%} test accuracy.")
    return out


@torch.no_grad()
def buildup_observations(rbm: RBM, test: ImageSet) -> list[str]:
    x = data.as_float(test.images)
    h, p = rbm.reconstruct(x, make_generator(0, x.device))
    active = h.sum(1)
    return [f"A test image turns on {active.mean().item():.1f} of {rbm.n_hidden} hidden units on average "
            f"(from {int(active.min())} to {int(active.max())}); the reconstruction is sigma of the visible bias plus "
            f"the sum of their weights, so every image is drawn from a few dozen strokes."]


def usage_observations(usage: torch.Tensor) -> list[str]:
    n = usage.numel()
    rare, common = int((usage < 0.01).sum()), int((usage > 0.5).sum())
    return [f"The most used unit is on for {usage.max().item():.1%} of the test images, the least used for "
            f"{usage.min().item():.2%}; {rare} of {plural(n, 'unit')} {form(rare, 'is', 'are')} on for under 1% (unused), "
            f"{common} for over half."]


def generation_observations(stats: dict[str, float], steps: int) -> list[str]:
    out = []
    for name, on in stats.items():
        line = f"After {steps} steps from '{name}', {on:.1%} of the hidden units are on on average"
        if on < 0.01:
            line += ("; these chains fell into the all-off hidden state, whose p(v=1|h) is sigma(a), the same "
                     "blurred image for every chain")
        out.append(line + ".")
    return out
