"""What the VAE lab (SPEC task 4) reports from its measurements: the table, the observations and the
answers to the lab's questions 4.1-4.4, computed from them.

The answers rest on a few numbers measured here beyond ``genlab eval``'s: per latent dimension
its KL, the variance of its posterior mean, its mean posterior variance and the size of the
decoder's weights from it (:func:`latent_use`); how well the digits separate in a latent
plane, by the leave-one-out vote of their nearest neighbours (:func:`separation`); and which
digits a decoded walk over that plane shows, as the metrics classifier reads them (:func:`walk_summary`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from genlab.evaluation.vae import ACTIVE_THRESHOLD, latent_usage
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


# ----------------------------------------------------------------------------- measurements for the answers

NEIGHBOURS = 10  # k of the nearest-neighbour vote in a latent plane
PRIOR_VARIANCE_BAND = (0.9, 1.1)  # a mean sigma^2 in this band is "at the prior's 1"
WEAK_SIGMA2 = 0.5  # an active dimension whose mean sigma^2 is at least this is only weakly used: q(z|x) stays wide


@dataclass(frozen=True)
class LatentUse:
    """What q(z|x) and the decoder make of each latent dimension, over a set of inputs."""

    kl: list[float]  # KL(q(z_j|x) || N(0, 1)), mean over the inputs (nats)
    mu_variance: list[float]  # variance of mu_j over the inputs
    sigma2: list[float]  # mean of sigma_j^2 = exp(log sigma_j^2) over the inputs
    weight_norm: list[float]  # Euclidean norm of the decoder's first-layer weights from z_j
    inputs: int  # how many inputs

    @property
    def active(self) -> list[int]:
        """The dimensions (0-based) whose mu varies over the inputs: Var(mu) > ACTIVE_THRESHOLD."""
        return [j for j, v in enumerate(self.mu_variance) if v > ACTIVE_THRESHOLD]

    @property
    def inactive(self) -> list[int]:
        """The other dimensions: mu the same for every input, so z_j says nothing about x."""
        return [j for j, v in enumerate(self.mu_variance) if v <= ACTIVE_THRESHOLD]

    @property
    def at_prior(self) -> list[int]:
        """The inactive dimensions whose q(z_j|x) is the prior N(0, 1) as well: mean sigma^2 in PRIOR_VARIANCE_BAND."""
        low, high = PRIOR_VARIANCE_BAND
        return [j for j in self.inactive if low <= self.sigma2[j] <= high]


def latent_use(mu: torch.Tensor, logvar: torch.Tensor, decoder_weight: torch.Tensor) -> LatentUse:
    """:class:`LatentUse` from q(z|x)'s (mu, log sigma^2), [N, L] each, and the decoder's first-layer weight [H, L]."""
    usage = latent_usage(mu, logvar)
    return LatentUse(usage["kl_per_dim"], usage["posterior_mean_variance"], logvar.double().exp().mean(0).tolist(),
                     decoder_weight.detach().double().norm(dim=0).tolist(), mu.shape[0])


@torch.no_grad()
def knn_predictions(points: torch.Tensor, labels: torch.Tensor, k: int = NEIGHBOURS, chunk: int = 1000) -> torch.Tensor:
    """Each point's label by the majority of its k nearest other points (Euclidean; leave-one-out).

    Ties go to the smallest label. ``points`` [N, d], ``labels`` int [N]; returns int [N].
    """
    classes = int(labels.max()) + 1
    out = []
    for start in range(0, points.shape[0], chunk):
        d = torch.cdist(points[start : start + chunk].double(), points.double())
        rows = torch.arange(d.shape[0])
        d[rows, rows + start] = math.inf  # not its own neighbour
        nearest = d.topk(min(k, points.shape[0] - 1), largest=False).indices
        votes = torch.nn.functional.one_hot(labels[nearest], classes).sum(1)
        out.append(votes.argmax(1))
    return torch.cat(out)


@dataclass(frozen=True)
class Separation:
    """How well the labels of points follow from their neighbours' (:func:`knn_predictions`)."""

    k: int
    accuracy: float  # share of points whose neighbours' vote names their label
    chance: float  # share of the most frequent label: what a vote ignoring the points would get
    per_class: dict[int, float]  # label -> accuracy on its points
    confused: tuple[int, int, float]  # (label, the label its points are most often given, the share of its points)
    points: int  # how many points voted


def separation(labels: torch.Tensor, predicted: torch.Tensor, k: int = NEIGHBOURS) -> Separation:
    """:class:`Separation` from the true and the predicted labels of the same points."""
    classes = int(max(labels.max(), predicted.max())) + 1
    confusion = torch.zeros(classes, classes, dtype=torch.float64)
    confusion.index_put_((labels.long(), predicted.long()), torch.ones(len(labels), dtype=torch.float64), accumulate=True)
    counts = confusion.sum(1)
    present = [c for c in range(classes) if counts[c] > 0]
    per_class = {c: (confusion[c, c] / counts[c]).item() for c in present}
    wrong = confusion / counts.clamp(min=1)[:, None]
    wrong.fill_diagonal_(-1.0)
    flat = int(wrong.argmax())
    label, other = divmod(flat, classes)
    return Separation(k, (labels == predicted).double().mean().item(), (counts.max() / counts.sum()).item(), per_class,
                      (label, other, max(wrong[label, other].item(), 0.0)), len(labels))


@dataclass(frozen=True)
class Walk:
    """What a decoded grid over a latent plane shows, by a classifier's reading of each image."""

    digits: list[int]  # the distinct labels read on the grid, in order
    classes: int  # how many labels the classifier knows
    neighbour_agreement: float  # share of adjacent grid points (along rows and columns) read as the same label


def walk_summary(predicted: torch.Tensor, classes: int = 10) -> Walk:
    """:class:`Walk` from the labels read on an n x n grid, int [n, n]."""
    same = torch.cat([(predicted[:, 1:] == predicted[:, :-1]).flatten(), (predicted[1:] == predicted[:-1]).flatten()])
    return Walk(sorted(predicted.unique().tolist()), classes, same.double().mean().item())


@dataclass(frozen=True)
class Recognised:
    """The metrics classifier's accuracy on test inputs and on their reconstructions p(x=1|z=mu)."""

    inputs: float
    reconstructions: float
    images: int  # test images measured
    shown: int  # reconstructions recognised among the first ``shown_of`` (the figure's)
    shown_of: int


@dataclass(frozen=True)
class Looked:
    """What the lab measured of one VAE beyond its eval.json, for the answers."""

    use: LatentUse
    dims: list[int]  # the two plotted dimensions (0-based)
    separation: Separation  # of the test digits in the plotted plane
    walk: Walk  # of the decoded grid over the plotted plane
    inside: float  # share of the posterior means inside the walk's square (plotted dimensions)
    extent: float  # the walk's square is [-extent, extent]^2
    recognised: Recognised
    inputs: str  # what the encoder was given: "grey values" or "binarised" test images
    elbo: torch.Tensor  # the ELBO of each binarised test image (one z each), float64 [N], for paired comparisons


# ----------------------------------------------------------------------------- the answers

def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _digits(labels: list[int]) -> str:
    """'3', '3 and 5', '1, 3 and 5'."""
    names = [str(d) for d in labels]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _z(dims: list[int]) -> str:
    return " and ".join(f"z{j + 1}" for j in dims)


def share_interval(a: float, b: float, n: int) -> float:
    """Half-width of an approximate 95% interval of the difference of two shares, each measured on n items."""
    return 1.96 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """(mean of a - b, half-width of its approximate 95% interval) for paired per-item values."""
    d = (a - b).double()
    return d.mean().item(), 1.96 * d.std().item() / math.sqrt(len(d))


def reconstructions_answer(m: Measured, looked: Looked) -> list[str]:
    """4.1: how well the reconstructions keep the digit, what the ELBO is made of, what mu holds."""
    r, rec, use = m.results, looked.recognised, looked.use
    drop = rec.inputs - rec.reconstructions
    verdict = ("they keep the digit's identity almost always" if drop <= 0.02 else
               "most keep the digit's identity, but some turn into another digit" if rec.reconstructions >= 0.5 else
               "most lose the digit's identity")
    first = (f"The metrics classifier reads the input's digit in {rec.shown} of the first {rec.shown_of} reconstructions "
             f"p(x=1|z=mu) of the figure, and in {_pct(rec.reconstructions)} of the reconstructions of the first {rec.images:,} "
             f"test images, against {_pct(rec.inputs)} of the inputs themselves; so {verdict}. The mean squared error per "
             f"pixel between a grey test image and p(x=1|z) for a z ~ q(z|x) is {r['recon_error']:.4f}.")
    kl = sum(r["kl_per_dim"])
    second = (f"The test ELBO of {r['test_elbo']:.2f} nats is an expected reconstruction log-likelihood of "
              f"{r['test_elbo'] + kl:.2f} nats minus a KL to the prior of {kl:.2f} nats (binarised test set): what the "
              "latent code tells the decoder about each image costs that many nats.")
    active, inactive = len(use.active), len(use.inactive)
    if inactive and active:
        third = (f"The latent state mu (bottom row) holds the image in {plural(active, 'dimension')}: "
                 f"{form(active, 'its cell changes', 'their cells change')} from image to image, while the other "
                 f"{inactive} stay near 0 for every input (4.2).")
    elif active:
        third = f"All {plural(active, 'cell')} of mu (bottom row) change from image to image: every dimension is in use (4.2)."
    else:
        third = (f"No cell of mu (bottom row) varies much from image to image (Var(mu) <= {ACTIVE_THRESHOLD} in every "
                 "dimension): the decoder gets almost nothing about the input, and the reconstructions look alike.")
    return [first, second + " " + third]


def latent_use_answer(m: Measured, looked: Looked) -> list[str]:
    """4.2: which dimensions are active and which collapsed to the prior, from mu, sigma^2 and the decoder's weights."""
    use, d = looked.use, len(looked.use.kl)
    active, inactive, prior = use.active, use.inactive, use.at_prior
    total_kl = sum(use.kl)
    low, high = PRIOR_VARIANCE_BAND
    rule = f"the variance of mu over the inputs above {ACTIVE_THRESHOLD}"
    where = f"Over the {use.inputs:,} test inputs ({looked.inputs}, as the model was trained on them)"
    counted = (f"{where}, all {plural(d, 'dimension')} {form(d, 'is', 'are')} active ({rule})" if not inactive else
               f"{where}, {len(active)} of the {plural(d, 'dimension')} {form(len(active), 'is', 'are')} active "
               f"({rule}) and {len(inactive)} {form(len(inactive), 'is', 'are')} not")
    band = f"sigma^2 between {low} and {high}"
    if len(inactive) == 1:
        counted += (f"; it has collapsed to the prior, with {band} as well." if prior else
                    f"; it has not reached the prior ({band}).")
    elif inactive:
        counted += (f"; none of these has reached the prior ({band})." if not prior else
                    f"; {len(prior)} of these {form(len(prior), 'has', 'have')} collapsed to the prior, with {band} as well.")
    else:
        counted += "."
    parts = [counted]
    strong = [j for j in active if use.sigma2[j] < WEAK_SIGMA2]
    weak = [j for j in active if use.sigma2[j] >= WEAK_SIGMA2]
    if strong:
        parts.append(
            f"{len(strong)} {form(len(strong), 'is', 'are')} strongly used: sigma^2 of {_span([use.sigma2[j] for j in strong])} "
            f"(below {WEAK_SIGMA2}, so q(z|x) places each input precisely), a KL of {_span([use.kl[j] for j in strong])} nats "
            f"({_pct(sum(use.kl[j] for j in strong) / total_kl)} of the total {total_kl:.2f}), and decoder weights with "
            f"norms {_span([use.weight_norm[j] for j in strong])}.")
    if weak:
        norms_w = [use.weight_norm[j] for j in weak]
        text = (f"{len(weak)} {form(len(weak), 'is', 'are')} active but only weakly used, close to the prior although "
                f"{form(len(weak), 'its', 'their')} mu still varies: sigma^2 of {_span([use.sigma2[j] for j in weak])}, "
                f"a KL of {_span([use.kl[j] for j in weak])} nats and decoder weights with norms {_span(norms_w)}")
        if strong and max(norms_w) < min(use.weight_norm[j] for j in strong):
            text += ", smaller than every strongly used dimension's: the decoder leans on them less"
        parts.append(text + ".")
    if inactive:
        sig = [use.sigma2[j] for j in inactive]
        norms_i = [use.weight_norm[j] for j in inactive]
        text = (f"The inactive {form(len(inactive), 'one has', 'ones have')} mu near 0 for every input (Var(mu) at most "
                f"{max(use.mu_variance[j] for j in inactive):.4f}), sigma^2 of {_span(sig)}"
                + (" (the prior's 1)" if len(prior) == len(inactive) else "") +
                f" and a KL of at most {max(use.kl[j] for j in inactive):.3f} nats")
        if active:
            norms_a = [use.weight_norm[j] for j in active]
            if max(norms_i) < min(norms_a):
                text += (f"; the decoder's weights from {form(len(inactive), 'it', 'them')} have norms {_span(norms_i)}, "
                         f"smaller than every active dimension's: the decoder has learnt to ignore "
                         f"{form(len(inactive), 'it', 'them')}.")
            else:
                text += (f"; but the decoder's weights from {form(len(inactive), 'it', 'them')} ({_span(norms_i)}) are not "
                         f"all smaller than the active ones' ({_span(norms_a)}): the decoder has not yet pruned them.")
        else:
            text += f"; the decoder's weights from them have norms {_span(norms_i)}."
        parts.append(text)
    if not inactive:
        why = (f"No dimension has collapsed in this run: each of the {d} carries at least {min(use.kl):.3f} nats. "
               + ("With so few dimensions, every one is needed to describe the digits." if d < 10 else
                  f"This runs against the usual picture of a few collapsed dimensions out of 20, though the {len(weak)} "
                  "weakly used ones sit close to the prior: the ELBO charges every dimension its KL, and prunes those "
                  "whose information gains the decoder less than it costs, which may take more training than this run had."
                  if weak else "This runs against the usual picture of a few collapsed dimensions out of 20."))
    elif not active:
        why = ("No dimension carries information about x: the encoder gives nearly the same q(z|x) for every input, "
               "and the decoder models the pixels almost without the latent code. "
               + ("This is full posterior collapse: every q(z_j|x) is the prior." if len(prior) == d else
                  f"Not all have reached the prior (sigma^2 of {_span([use.sigma2[j] for j in inactive])}): the encoder "
                  "has not yet learnt to use the latent space at all, rather than having switched dimensions off."))
    else:
        why = ("Why: the ELBO charges every dimension its KL to N(0, 1). A dimension is worth using only if what it "
               "tells the decoder about x gains more reconstruction log-likelihood than its KL costs; the optimiser "
               "switches the others off (mu -> 0, sigma^2 -> 1, KL -> 0), and then z_j is pure noise to the decoder, "
               "whose weights from it only add noise and are driven toward 0.")
    answer = [" ".join(parts), why]
    if m.results.get("active_units") is not None and m.results["active_units"] != len(active):
        answer.append(f"On the binarised test images of the measurement table the same rule counts "
                      f"{m.results['active_units']} active dimensions, against {len(active)} here: a dimension near the "
                      "threshold can change sides with the inputs.")
    return answer


def walk_sentence(w: Walk) -> str:
    """What the digits read on a decoded grid say about the decoder."""
    seen = (f"{len(w.digits)} of the {w.classes} digits as the metrics classifier reads them ({_digits(w.digits)})")
    if len(w.digits) <= 2:
        return (f"shows {seen}: the decoded image hardly changes over the plane, so the decoder does not yet use these "
                "two dimensions to tell digits apart.")
    smooth = ("moving through the plane turns one digit into the next, with blends where classes meet"
              if w.neighbour_agreement >= 0.7 else "the decoded digit changes often between neighbouring points")
    return (f"shows {seen}, and neighbouring grid points show the same digit in {_pct(w.neighbour_agreement)} of the "
            f"pairs: {smooth}.")


def latent_map_answer(m: Measured, looked: Looked) -> list[str]:
    """4.3: how well the digits separate in the plotted plane of the 20-D latent space, and what its walk shows."""
    s, use, dims = looked.separation, looked.use, looked.dims
    share = sum(use.kl[j] for j in dims) / max(sum(use.kl), 1e-12)
    best = max(s.per_class, key=s.per_class.get)
    worst = min(s.per_class, key=s.per_class.get)
    label, other, wrong = s.confused
    shape = ("the digits hardly separate" if s.accuracy - s.chance < 0.2 else
             "the digits form clear clusters" if s.accuracy >= 0.8 else "the digits form clusters that overlap")
    first = (f"In the plane of {_z(dims)} (the two largest KLs, {_pct(share)} of the total), the vote of the "
             f"{s.k} nearest posterior means names a test image's digit in {_pct(s.accuracy)} of the first {s.points:,} "
             f"test images (leave-one-out among them; always naming the most frequent digit: {_pct(s.chance)}): {shape}. Best told apart: "
             f"{best} ({_pct(s.per_class[best])}); worst: {worst} ({_pct(s.per_class[worst])}); the largest overlap: "
             f"{_pct(wrong)} of the {label}s are voted {other}s.")
    idle = [j for j in dims if j in use.inactive]
    if idle:
        first += (f" {form(len(idle), 'One of the two is', 'Both are')} inactive (Var(mu) at most "
                  f"{max(use.mu_variance[j] for j in idle):.4f}): the posterior means lie in a tiny patch around 0 "
                  "(the scatter's axes show how small), ordered by digit only faintly.")
    probe, latent = m.results["probe_accuracy"], len(use.kl)
    if probe > s.accuracy + 0.05:
        first += (f" Two dimensions show only part of the class structure: a linear read-out of all {latent} dimensions "
                  f"of mu reaches {_pct(probe)}.")
    else:
        first += f" The plane holds about as much as a linear read-out of all {latent} dimensions of mu finds ({_pct(probe)})."
    second = (f"The decoded grid over the same two dimensions (the others at 0) {walk_sentence(looked.walk)} The VAE never "
              "sees a label: the digits separate only as far as a digit's identity is what most helps the decoder per "
              "nat of KL.")
    return [first, second]


def two_d_answer(ref: Measured, two: Measured, looked20: Looked, looked2: Looked) -> list[str]:
    """4.4: the 2-D latent space against the 20-D one, and what the walk over its plane shows."""
    r20, r2 = ref.results, two.results
    diff, half = paired_difference(looked2.elbo, looked20.elbo)
    numbers = (f"With 2 latent dimensions the test log-likelihood (IWAE, k = {r2['iwae_k']}) is {r2['test_iwae']:.2f} nats "
               f"against the 20-D model's {r20['test_iwae']:.2f}. On the same {len(looked2.elbo):,} binarised test images "
               f"the 2-D model's ELBO is {diff:+.2f} ± {half:.2f} nats from the 20-D model's (mean of the per-image "
               "differences, 95% interval)")
    errors = f"; the squared reconstruction error per pixel is {r2['recon_error']:.4f} against {r20['recon_error']:.4f}."
    used20 = len(looked20.use.active)
    if diff + half < 0:
        cost = (numbers + errors + (f" Two numbers cannot hold what {used20} active dimensions hold, so each "
                                    "reconstruction keeps less of its image." if used20 > 2 else
                                    f" The 20-D model uses only {used20} of its dimensions here, yet still does better."))
    elif diff - half > 0:
        cost = (numbers + errors + " Against the expectation, the smaller latent space does better in this run: "
                f"the 20-D model, with {used20} active dimensions, is not trained far enough for its latent size to pay off.")
    else:
        cost = (numbers + errors + " The interval does not resolve a difference: at this training budget the latent "
                f"size does not limit either model (the 20-D one has {used20} active dimensions).")
    s2, s20 = looked2.separation, looked20.separation
    n = min(s2.points, s20.points)
    plane = (f"In its plane the 2-D model's digits are named by the vote of their {s2.k} nearest neighbours in "
             f"{_pct(s2.accuracy)} of the first {s2.points:,} test images, against {_pct(s20.accuracy)} in the 20-D model's two most used "
             f"dimensions (± {_pct(share_interval(s2.accuracy, s20.accuracy, n))} for the difference)")
    if abs(s2.accuracy - s20.accuracy) <= share_interval(s2.accuracy, s20.accuracy, n):
        plane += ": no resolved difference."
    elif s2.accuracy > s20.accuracy:
        plane += ": having only the plane, the 2-D model organises it by digit more clearly."
    else:
        plane += ": against the expectation, the 20-D model's two strongest dimensions separate the digits better."
    used = len(looked2.use.active)
    plane += (f" {used} of its 2 dimensions {form(used, 'is', 'are')} active (KL {_span(looked2.use.kl)} nats); "
              f"a linear read-out of mu reaches {_pct(r2['probe_accuracy'])}, against {_pct(r20['probe_accuracy'])} "
              "with 20 dimensions.")
    e = looked2.extent
    prior = math.erf(e / math.sqrt(2)) ** 2
    missing = [d for d in range(looked2.walk.classes) if d not in looked2.walk.digits]
    walk = (f"The 15x15 walk over [-{e}, {e}]^2 {walk_sentence(looked2.walk)}"
            + (f" Missing: {_digits(missing)}." if missing and len(looked2.walk.digits) > 2 else "")
            + f" The square holds {_pct(looked2.inside)} of the test images' posterior means and {_pct(prior)} of the "
            "prior's mass, "
            + ("so the walk covers most of where the model puts the digits." if looked2.inside >= 0.5 else
               "so much of what the model encodes lies outside the walk."))
    return [cost, plane, walk]
