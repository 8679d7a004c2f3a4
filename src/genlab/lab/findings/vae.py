"""What the VAE lab (SPEC task 4) reports from its measurements: the table and observations computed from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genlab.evaluation.vae import ACTIVE_THRESHOLD
from genlab.lab.report import form, plural
from genlab.runs import Run
from genlab.training.vae import VAEConfig

BURDA_2016_VAE = -86.76  # test log-likelihood (k = 5000) of their one-stochastic-layer VAE, 50 latents


@dataclass
class Measured:
    """One run of the lab with its evaluation."""

    label: str
    config: VAEConfig
    run: Run
    results: dict[str, Any]

    def row(self) -> list[Any]:
        r, c = self.results, self.config
        return [
            self.label, c.latent, c.targets, c.batch_size, f"{c.lr:g}", c.epochs, self.run.meta["data"]["train_images"],
            r["test_elbo"], r["test_iwae"], r["iwae_k"], f"{r['active_units']} / {c.latent}", r["probe_accuracy"],
            self.run.meta["train_time_s"],
        ]


COLUMNS = ["run", "latent", "targets", "batch", "lr", "epochs", "train images", "test ELBO", "test IWAE", "IWAE k",
           "active units", "probe accuracy", "training time (s)"]


def observations(measured: list[Measured]) -> list[str]:
    """What the numbers say, in sentences generated from them."""
    out = []
    for m in measured:
        r = m.results
        gap = r["test_iwae"] - r["test_elbo"]
        out.append(
            f"{m.label}: the importance-weighted estimate (k = {r['iwae_k']}) is {gap:.2f} nats above the ELBO "
            f"({r['test_iwae']:.2f} vs {r['test_elbo']:.2f}): q(z|x) is not the true posterior, and the ELBO pays for "
            f"the mismatch. Train ELBO {r['train_elbo']:.2f} vs test ELBO {r['test_elbo']:.2f}."
        )
        out.append(usage_observation(m.label, r["kl_per_dim"], r["posterior_mean_variance"]))
    reference, two = measured[0], measured[1]
    out.append(
        f"Going from {reference.config.latent} to {two.config.latent} latent dimensions changes the test log-likelihood by "
        f"{two.results['test_iwae'] - reference.results['test_iwae']:+.2f} nats and the linear-probe accuracy on the "
        f"posterior means from {reference.results['probe_accuracy']:.3f} to {two.results['probe_accuracy']:.3f}."
    )
    for m in measured[2:]:
        out.append(
            f"{m.label} is {m.results['test_iwae'] - reference.results['test_iwae']:+.2f} nats from the 20-D reference run "
            f"(test IWAE {m.results['test_iwae']:.2f}), after {m.run.meta['train_time_s']:.0f} s of training against "
            f"{reference.run.meta['train_time_s']:.0f} s."
        )
    best = max(measured, key=lambda m: m.results["test_iwae"])
    out.append(
        f"For scale: Burda et al. (2016) report {BURDA_2016_VAE} nats for a VAE with one stochastic layer of 50 units "
        f"and two deterministic layers of 200, trained for 3,280 passes on dynamically binarised data; the best run here "
        f"({best.label}) is {BURDA_2016_VAE - best.results['test_iwae']:.2f} nats below it (docs/vae.md: what closes the gap)."
    )
    return out


def usage_observation(label: str, kl: list[float], var: list[float]) -> str:
    """Which latent dimensions are active (variance of mu above the threshold) and their KL, in one sentence."""
    used = [k for k, v in zip(kl, var) if v > ACTIVE_THRESHOLD]
    idle = [k for k, v in zip(kl, var) if v <= ACTIVE_THRESHOLD]
    rule = f"variance of mu over the test inputs > {ACTIVE_THRESHOLD}"
    if not idle:
        every = "the only dimension is" if len(used) == 1 else f"all {len(used)} dimensions are"
        return f"{label}: {every} active (KL per dimension {_span(used)} nats)."
    if not used:
        none = "the only dimension is not" if len(idle) == 1 else f"none of the {len(idle)} dimensions is"
        return (f"{label}: {none} active ({rule}); {form(len(idle), 'it collapses', 'all collapse')} to the prior, "
                f"with a KL of at most {max(idle):.3f} nats.")
    return (f"{label}: {len(used)} of {plural(len(kl), 'dimension')} {form(len(used), 'is', 'are')} active ({rule}); "
            f"the other {len(idle)} {form(len(idle), 'collapses', 'collapse')} to the prior, with a KL of at most "
            f"{max(idle):.3f} nats against {_span(used)} nats for the active {form(len(used), 'one')}.")


def _span(values: list[float]) -> str:
    """'0.12 to 3.40', or '1.50' for one value."""
    return f"{values[0]:.2f}" if len(values) == 1 else f"{min(values):.2f} to {max(values):.2f}"
