"""What the RBM lab (SPEC task 1) reports from its measurements: tables, observations, and the answers to the
lab's questions, computed from them.

Each answer is a list of paragraphs that cite this run's numbers and branch on them: where a run contradicts
what the textbook expects (a larger k not better, an interval that does not resolve a difference), it says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genlab import data
from genlab.data import ImageSet
from genlab.evaluation.protocol import interval_text, protocol_note
from genlab.figures.rbm import Chains
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
    columns = ["variant", "test log-lik (nats)", "interval", "method", "conservative (nats)", "train log-lik", "recon error",
               "probe accuracy", "train time (s)"]
    rows = []
    for r in rs:
        e = r.eval
        rows.append([
            r.label, e["test_loglik"], interval_text(e), _method(e), e.get("test_loglik_conservative"), e["train_loglik"],
            e["recon_error"], e["probe_accuracy"], f"{r.train_time:.1f}", *(e.get(key) for key in extra),
        ])
    note = " ".join(part for part in (note, protocol_note({r.label: r.eval for r in rs})) if part)
    return Table(title, columns + [OPTIONAL_COLUMNS[k] for k in extra], rows, note=note)


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
    ratio = f", {slow.train_time / fast.train_time:.1f}x" if fast.train_time >= 0.05 else ""
    out.append(f"Training took {seconds(fast.train_time)} ({fast.label}) to {seconds(slow.train_time)} ({slow.label}){ratio}.")
    return out


def seconds(t: float) -> str:
    """A duration as the report writes it: '0.4 s', '12 s', '3 min 05 s'."""
    if t < 9.95:
        return f"{t:.1f} s"
    if t < 119.5:
        return f"{t:.0f} s"
    minutes, rest = divmod(round(t), 60)
    return f"{minutes} min {rest:02d} s"


def reference_observations(ref: Result) -> list[str]:
    e = ref.eval
    out = [f"Test log-likelihood {e['test_loglik']:.2f} nats ({_method(e)}, interval {interval_text(e)}), train "
           f"{e['train_loglik']:.2f}: an overfitting gap of {e['train_loglik'] - e['test_loglik']:.2f} nats."]
    out.append(f"Reconstruction error {e['recon_error']:.4f} per pixel; a linear probe on p(h|v) reaches "
               f"{e['probe_accuracy']:.2%} test accuracy.")
    return out


# ----------------------------------------------------------------------------- 1.1 and 1.8: what the weights show

DUPLICATE_COSINE = 0.95  # two units whose weight vectors have a cosine similarity above this are duplicates
DEAD_NORM = 0.1  # a unit is dead when its weight vector is shorter than this fraction of the median unit's ...
RARE_USAGE = 0.01  # ... or when it is on (mean p(h=1|v)) for under this fraction of the test images
SMOOTH, NOISY = 0.5, 0.2  # neighbour correlations above which filters read as smooth strokes, below which as noise
LOCALISED = 2.0  # filters are localised when their window holds at least this many times a noise filter's share


def localisation(filters: torch.Tensor, window: int) -> torch.Tensor:
    """For each filter of ``filters`` [n, height, width]: the fraction of its weight energy (the sum of its
    squared weights) inside the ``window`` x ``window`` square where that energy is largest (1: all of it)."""
    energy = filters.square()
    boxes = F.avg_pool2d(energy[:, None], window, stride=1).flatten(1) * window**2
    return boxes.max(1).values / energy.flatten(1).sum(1).clamp_min(torch.finfo(energy.dtype).tiny)


def smoothness(filters: torch.Tensor) -> torch.Tensor:
    """For each filter of ``filters`` [n, height, width]: the correlation between horizontally and vertically
    neighbouring weights, about its mean weight: near 0 for pixel noise, near 1 for smooth strokes and blobs, -1
    for a checkerboard."""
    x = filters - filters.mean((1, 2), keepdim=True)
    a = torch.cat([x[:, :, :-1].flatten(1), x[:, :-1, :].flatten(1)], 1)
    b = torch.cat([x[:, :, 1:].flatten(1), x[:, 1:, :].flatten(1)], 1)
    norm = (a.square().sum(1) * b.square().sum(1)).sqrt()
    return (a * b).sum(1) / norm.clamp_min(torch.finfo(x.dtype).tiny)


def duplicated(weights: torch.Tensor, threshold: float = DUPLICATE_COSINE) -> int:
    """How many rows of ``weights`` [units, inputs] have a near-identical twin: another row at a cosine
    similarity above ``threshold``."""
    unit = F.normalize(weights, dim=1)
    cosine = unit @ unit.t()
    cosine.fill_diagonal_(-1.0)
    return int((cosine > threshold).any(1).sum())


def dead(weights: torch.Tensor, usage: torch.Tensor) -> int:
    """How many units (rows of ``weights`` [units, inputs], their usage ``usage`` [units]) are dead: weights
    shorter than DEAD_NORM of the median unit's, or on for under RARE_USAGE of the test images."""
    norms = weights.norm(dim=1)
    return int(((norms < DEAD_NORM * norms.median()) | (usage < RARE_USAGE)).sum())


@dataclass(frozen=True)
class Filters:
    """What the weights of one RBM show, as numbers (SPEC 1.1 and 1.8)."""

    units: int
    window: int  # the side of localisation's square, pixels
    localisation: float  # the median unit's share of weight energy inside its square
    noise_localisation: float  # the same for filters of Gaussian pixel noise of the same shape: the baseline
    smoothness: float  # the median unit's neighbour correlation
    dead: int
    duplicated: int

    @property
    def localised(self) -> bool:
        return self.localisation >= LOCALISED * self.noise_localisation


@torch.no_grad()
def filters(rbm: RBM, image_shape: tuple[int, int], usage: torch.Tensor) -> Filters:
    """The numbers of :class:`Filters` for ``rbm``'s weights, read as images of ``image_shape``, and the usage
    of its hidden units over the test set."""
    images = rbm.W.t().reshape(-1, *image_shape).float().cpu()
    window = max(1, min(image_shape) // 4)
    noise = torch.randn(images.shape, generator=make_generator(0))
    return Filters(
        units=rbm.n_hidden, window=window, localisation=localisation(images, window).median().item(),
        noise_localisation=localisation(noise, window).median().item(), smoothness=smoothness(images).median().item(),
        dead=dead(rbm.W.t(), usage), duplicated=duplicated(rbm.W.t()),
    )


def _shape_of(f: Filters) -> str:
    """What the two shape numbers of ``f`` say the filters look like."""
    if f.smoothness < NOISY:
        return ("so the filters are still mostly pixel noise, close to the random weights they started from: "
                "training has not yet shaped them into patterns")
    smooth = "smooth" if f.smoothness >= SMOOTH else "partly smooth (smooth patterns over pixel noise)"
    if f.localised:
        return (f"so the filters are {smooth} and local: each unit detects a stroke or blob, a piece of a digit "
                "in one place, and a digit is drawn as a sum of such pieces")
    return (f"so the filters are {smooth} but spread over the image: the units detect broad, whole-image patterns "
            "(blurred digit templates or large blobs) rather than local strokes")


def _filter_numbers(f: Filters) -> str:
    """The numbers of ``f`` in one sentence."""
    return (f"The median filter holds {f.localisation:.0%} of its weight energy inside its strongest "
            f"{f.window}x{f.window} square, against {f.noise_localisation:.0%} for a filter of pixel noise, and "
            f"neighbouring weights correlate at {f.smoothness:.2f} (0 for noise, 1 for a smooth image)")


def _waste(f: Filters) -> str:
    """What the dead and duplicated units of ``f`` say."""
    counts = (f"{f.dead} of {plural(f.units, 'unit')} {form(f.dead, 'is', 'are')} dead (weights under "
              f"{DEAD_NORM:.0%} of the median unit's length, or on for under {RARE_USAGE:.0%} of the test images) "
              f"and {f.duplicated} {form(f.duplicated, 'has', 'have')} a near-identical twin (cosine similarity "
              f"above {DUPLICATE_COSINE})")
    if f.dead + f.duplicated == 0:
        return counts + ": every unit contributes a pattern of its own."
    share = min(f.dead + f.duplicated, f.units) / f.units
    twins = (" (two units with equal weights get equal gradients, so nothing in CD pulls them apart)"
             if f.duplicated else "")
    return counts + f": up to {share:.0%} of the layer adds little of its own, capacity this training leaves unused{twins}."


def weights_answer(f: Filters, epochs: int) -> list[str]:
    """SPEC 1.1: what the reference run's weights show, from their numbers (``epochs``: of its training)."""
    return [f"{_filter_numbers(f)}; {_shape_of(f)} (after {plural(epochs, 'epoch')}).", _waste(f)]


# ----------------------------------------------------------------------------- 1.2: how a reconstruction comes about


@dataclass(frozen=True)
class Buildup:
    """How the reconstructions of the test set come about (SPEC 1.2)."""

    units: int
    active: float  # hidden units on per test image, mean
    fewest: int
    most: int
    bias_error: float  # squared error per pixel of sigma(a) alone against the test images
    error: float  # ... of the reconstruction p(v=1|h)


@torch.no_grad()
def buildup(rbm: RBM, test: ImageSet) -> Buildup:
    """:class:`Buildup` of ``rbm`` on ``test``, with h ~ p(h|v) drawn from seed 0 (as the figures)."""
    x = data.as_float(test.images)
    h, p = rbm.reconstruct(x, make_generator(0, x.device))
    active = h.sum(1)
    bias = torch.sigmoid(rbm.v_bias)
    return Buildup(units=rbm.n_hidden, active=active.mean().item(), fewest=int(active.min()), most=int(active.max()),
                   bias_error=(x - bias).square().mean().item(), error=(x - p).square().mean().item())


def buildup_observations(b: Buildup) -> list[str]:
    return [f"A test image turns on {b.active:.1f} of {plural(b.units, 'hidden unit')} on average "
            f"(from {b.fewest} to {b.most}); the reconstruction is sigma of the visible bias plus the sum of their "
            "weights."]


def buildup_answer(b: Buildup) -> list[str]:
    """SPEC 1.2: how a reconstruction comes about, from the numbers of ``b``."""
    gain = 1 - b.error / b.bias_error if b.bias_error > 0 else 0.0
    out = [f"A reconstruction is p(v=1|h) = sigma(a + W h): it starts from sigma(a), the visible bias alone, one "
           f"blurred average image for every input (squared error {b.bias_error:.4f} per pixel against the test "
           f"images), and each hidden unit that is on adds its column of W inside the sigmoid. A test image turns "
           f"on {b.active:.1f} of {b.units} units on average (h sampled from p(h|v)); together they bring the error "
           f"to {b.error:.4f}, {gain:.0%} below the bias alone."]
    if gain < 0.2:
        out.append("So the hidden units add little yet: the reconstructions are mostly the visible bias, and in the "
                   "build-up figure the last step looks much like the first.")
    else:
        out.append("The build-up figure shows it unit by unit: positive weights add ink where the unit's pattern "
                   "lies, negative ones take it away elsewhere, and the sigmoid turns the running sum into pixel "
                   "probabilities, so the image appears as the sum of the active units' patterns.")
    return out


# ----------------------------------------------------------------------------- 1.3: hidden unit usage


def usage_observations(usage: torch.Tensor) -> list[str]:
    n = usage.numel()
    rare, common = int((usage < RARE_USAGE).sum()), int((usage > 0.5).sum())
    return [f"The most used unit is on for {usage.max().item():.1%} of the test images, the least used for "
            f"{usage.min().item():.2%}; {rare} of {plural(n, 'unit')} {form(rare, 'is', 'are')} on for under 1% (unused), "
            f"{common} for over half."]


def usage_answer(usage: torch.Tensor) -> list[str]:
    """SPEC 1.3: how evenly the hidden units are used, from their usage ``usage`` [units] (mean p(h=1|v))."""
    n = usage.numel()
    top = max(1, math.ceil(n / 10))
    share = usage.sort(descending=True).values[:top].sum().item() / max(usage.sum().item(), 1e-12)
    low, high, median = usage.min().item(), usage.max().item(), usage.median().item()
    out = [f"Usage ranges from {low:.1%} to {high:.1%} of the test images (median {median:.1%}); the most used "
           f"tenth of the units ({plural(top, 'unit')}) carries {share:.0%} of all activity, against 10% if every "
           "unit were used alike."]
    if share < 0.2 and high - low < 0.2:
        out.append("So the units are used almost alike: p(h_j=1|v) = sigma(b_j + W_:j . v) is still close to "
                   "sigma(b_j) for every image, because the weights are too small to tell the images apart yet.")
    elif share < 0.2:
        out.append(f"So the units are used fairly evenly: none dominates, and a typical unit is on for {median:.0%} "
                   "of the images, a distributed code in which every image turns on many units and every unit "
                   "takes part in many images.")
    else:
        out.append("So the use is uneven: units whose weights match ink that most digits share are on for most "
                   "images, units tuned to the strokes of a few digits only for those, and units with a strongly "
                   "negative bias or weights that match no image hardly ever.")
    return out


# ----------------------------------------------------------------------------- 1.4-1.6 and 1.8: comparisons


def _ll(r: Result) -> float:
    return float(r.eval["test_loglik"])


def _ranking(rs: Sequence[Result]) -> str:
    """The variants' test log-likelihoods in the order given: 'k=1 -188.09, k=3 -129.41'."""
    return ", ".join(f"{r.label} {_ll(r):.2f}" for r in rs)


def _versus(better: Result, worse: Result) -> str:
    """'the test log-likelihood of X is D nats above that of Y (a against b)' and whether the intervals resolve it."""
    return (f"the test log-likelihood of {better.label} is {_ll(better) - _ll(worse):.2f} nats above that of "
            f"{worse.label} ({_ll(better):.2f} against {_ll(worse):.2f})" + _resolved(better, worse))


def _if_resolved(better: Result, worse: Result, reason: str) -> str:
    """``reason`` for ``better`` ranking above ``worse``, marked as tentative when the intervals do not resolve it."""
    return reason + ("" if _resolves(better, worse) else " (A tentative reading: the intervals do not resolve the ranking.)")


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _resolves(better: Result, worse: Result) -> bool:
    return _resolved(better, worse) == "."


def binarize_answer(sampled: Result, real: Result) -> list[str]:
    """SPEC 1.4: training on the pixel probabilities (``real``) against a fresh binary sample (``sampled``)."""
    better, worse = (sampled, real) if _ll(sampled) >= _ll(real) else (real, sampled)
    e_s, e_r = sampled.eval, real.eval
    out = [f"{_capital(_versus(better, worse))} Reconstruction error {e_r['recon_error']:.4f} with real-valued v against "
           f"{e_s['recon_error']:.4f} with sampled v; probe accuracy {e_r['probe_accuracy']:.2%} against "
           f"{e_s['probe_accuracy']:.2%}."]
    why = ("Without the initial sampling the positive phase <v h>^0 sees grey pixel values that a binary RBM never "
           "produces, and every epoch the same ones: the gradient is less noisy, but the model is fitted to the "
           "blurred mean of the data rather than to binary images like the (binarised) test set and its own samples.")
    if not _resolves(better, worse):
        out.append(why + " Here the difference is not resolved by the estimator's intervals, so this run does not "
                   "show which way it goes.")
    elif better is sampled:
        out.append(why + " This run shows the expected cost: the sampled data give the higher test likelihood.")
    else:
        out.append(why + " This run contradicts the expectation that the sampled data fit the binary test set "
                   "better: the real-valued training came out higher, perhaps because its less noisy gradient "
                   "matters more in a short run than the mismatch it introduces.")
    return out


def _by(rs: Sequence[Result], setting: str) -> list[Result]:
    """``rs`` sorted by a numeric setting of their configs (``cd_k``, ``lr``, ``hidden``)."""
    return sorted(rs, key=lambda r: r.run.config[setting])


def _increasing(rs: Sequence[Result]) -> bool:
    return all(_ll(b) > _ll(a) for a, b in itertools.pairwise(rs))


def _recon_remark(rs: Sequence[Result]) -> str:
    """Whether the lowest reconstruction error goes with the highest likelihood among ``rs``."""
    best = max(rs, key=_ll)
    by_recon = min(rs, key=lambda r: r.eval["recon_error"])
    errors = ", ".join(f"{r.eval['recon_error']:.4f}" for r in rs)
    if by_recon is best:
        return f"Reconstruction error ({errors}) is lowest for the same variant, {best.label}."
    return (f"Reconstruction error ({errors}) is lowest for {by_recon.label}, not for {best.label}: it measures "
            "one Gibbs step from the data, not the model's distribution, so it is no proxy for the likelihood.")


def k_answer(rs: Sequence[Result]) -> list[str]:
    """SPEC 1.5: what a larger k in CD-k changed, from the variants ``rs`` (each with its ``cd_k``)."""
    rs = _by(rs, "cd_k")
    best, first, last = max(rs, key=_ll), rs[0], rs[-1]
    out = [f"Test log-likelihood by k: {_ranking(rs)} nats." + (f" {_capital(_versus(best, first))}" if best is not first else "")]
    why = ("CD-k estimates the model's statistics <v h> from a chain only k steps from the data; its gradient is "
           "biased toward the data's neighbourhood, and the bias shrinks as k grows and the chain's samples come "
           "closer to the model's distribution. CD-1 lowers the energy of the data but rarely visits, and so never "
           "raises the energy of, modes far from it.")
    if best is last and _increasing(rs):
        out.append(f"Each larger k gave a higher likelihood, as that bias predicts. {_if_resolved(best, first, why)}")
    elif best is first:
        runner_up = max(rs[1:], key=_ll)
        out.append(f"This run contradicts the expectation: {best.label} gave the highest likelihood; "
                   f"{_versus(best, runner_up)} {why} That gain does not show here: in a short run the larger k's "
                   "slower start, or the estimator's uncertainty, can outweigh it.")
    else:
        after = rs[rs.index(best) + 1:]
        tail = (f" A larger k than that did not improve on it: {_versus(best, max(after, key=_ll))}" if after
                else f" The ranking of the k below it is not monotone: {_ranking(rs)}.")
        out.append(f"A larger k helped up to {best.label}.{tail} {why} Once the chain mixes well enough, more steps "
                   "buy little within this training.")
    out.append(f"{_recon_remark(rs)} A larger k costs k Gibbs steps per update: {last.label} does "
               f"{last.run.config['cd_k'] // first.run.config['cd_k']}x the sampling of {first.label}.")
    return out


def lr_answer(rs: Sequence[Result]) -> list[str]:
    """SPEC 1.6: what the learning rate changed, from the variants ``rs`` (each with its ``lr``)."""
    rs = _by(rs, "lr")
    best, first, last = max(rs, key=_ll), rs[0], rs[-1]
    out = [f"Test log-likelihood by learning rate: {_ranking(rs)} nats."]
    if best is first:
        out.append(f"The smallest rate, {best.label}, was best: {_versus(best, rs[1])} " + _if_resolved(
            best, rs[1], "Every larger rate lost likelihood: steps that large overshoot, and the noise of the CD "
            "gradient is multiplied by the rate."))
    elif best is last:
        out.append(f"The largest rate, {best.label}, was best: {_versus(best, rs[-2])} " + _if_resolved(
            best, rs[-2], "With a fixed number of updates the model is still far from converged, so how far the "
            "weights can move decides; none of these rates was large enough to become unstable."))
    else:
        out.append(f"The likelihood peaks at {best.label} and falls on both sides: {_versus(best, first)} "
                   f"{_capital(_versus(best, last))} A small rate leaves the model under-trained after the same number "
                   "of updates; a large one takes steps that overshoot and multiplies the noise of the CD gradient.")
    out.append(_recon_remark(rs))
    return out


def hidden_answer(rs: Sequence[Result], filters_by_label: dict[str, Filters]) -> list[str]:
    """SPEC 1.8: what fewer and more hidden units changed, in the numbers (``rs``, each with its ``hidden``) and
    in the weights (their :class:`Filters` by label)."""
    rs = _by(rs, "hidden")
    best, small, large = max(rs, key=_ll), rs[0], rs[-1]
    out = [f"Test log-likelihood by layer size: {_ranking(rs)} nats; reconstruction error "
           + ", ".join(f"{r.eval['recon_error']:.4f}" for r in rs) + "; probe accuracy "
           + ", ".join(f"{r.eval['probe_accuracy']:.2%}" for r in rs) + "."]
    if best is large and _increasing(rs):
        out.append("Every larger layer gave a higher likelihood; " + _versus(large, small) + " " + _if_resolved(
            large, small, "More units can represent more patterns, so the model covers more of the data's variety."))
    elif best is small:
        runner_up = max(rs[1:], key=_ll)
        out.append(f"This run contradicts the expectation that more units fit better: {_versus(best, runner_up)} "
                   + _if_resolved(best, runner_up, "A larger layer has more weights to learn in the same number of "
                                  "updates, and its log Z is harder to estimate, so a short run can rank it lower."))
    else:
        out.append(f"The likelihood does not simply rise with the layer's size: the best was {best.label}."
                   + (f" {_capital(_versus(best, large))}" if best is not large else ""))
    f_small, f_large = filters_by_label[small.label], filters_by_label[large.label]
    sizes = ", ".join(f"{r.label} {filters_by_label[r.label].localisation:.0%} "
                      f"({filters_by_label[r.label].smoothness:.2f})" for r in rs)
    weights = [f"In the weights, the median filter's share of energy in its strongest square (and its neighbour "
               f"correlation) by size: {sizes}"]
    if f_large.localisation > f_small.localisation * 1.1:
        weights.append("; a larger layer splits the digits into smaller, more local pieces, while a small one must "
                       "cover every digit with a few broad patterns.")
    elif f_large.localisation < f_small.localisation / 1.1 and f_large.smoothness < f_small.smoothness - 0.1:
        weights.append("; the larger layer's filters are less local and noisier, not more local: closer to pixel "
                       "noise, as if, in the same number of updates, its many units had moved less far from their "
                       "random start.")
    elif f_large.localisation < f_small.localisation / 1.1:
        weights.append("; the larger layer's filters are broader, not more local.")
    else:
        weights.append("; the sizes differ little in how local their filters are.")
    if any(f.dead or f.duplicated for f in filters_by_label.values()):
        waste = ", ".join(f"{filters_by_label[r.label].dead} dead and {filters_by_label[r.label].duplicated} "
                          f"duplicated of {r.run.config['hidden']}" for r in rs)
        weights.append(f" Units that add nothing of their own: {waste}.")
    else:
        weights.append(" No layer size has dead or duplicated units.")
    out.append("".join(weights))
    return out


# ----------------------------------------------------------------------------- 1.7: generation


@torch.no_grad()
def escape(rbm: RBM) -> float:
    """How many hidden units the blurred image sigma(a) (the all-off hidden state's p(v=1|h)) turns on: the sum of
    p(h_j=1|v) at v = sigma(a). Below 1, a chain in the all-off state mostly stays there."""
    return rbm.p_h(torch.sigmoid(rbm.v_bias)[None]).sum().item()


def _ended(c: Chains) -> str:
    """Where a set of chains ended, in words: their share of hidden units on and how their images differ."""
    fell = " (the all-off state)" if c.on < 0.01 else ""
    return f"{c.on:.1%} of the hidden units on{fell}, images differing by {c.spread:.3f} per pixel across the chains"


@dataclass(frozen=True)
class Generated:
    """Where one model's chains of SPEC 1.7 ended: from the set hidden states (by name) and free from random images."""

    label: str
    set_states: dict[str, Chains]
    free: Chains
    free_steps: int
    escape: float  # :func:`escape` of the model
    units: int  # its hidden units
    result: Result  # the model's run and its evaluation

    def kinds(self) -> dict[str, Chains]:
        """Every kind of chain by how the report names it: the set states, then the free chains."""
        return {f"'{name}'": c for name, c in self.set_states.items()} | {"random images (free chains)": self.free}

    def fallen(self) -> list[str]:
        """The kinds of chain that ended in the all-off hidden state."""
        return [kind for kind, c in self.kinds().items() if c.on < 0.01]

    def held(self) -> list[str]:
        """The kinds of chain that ended with hidden units on."""
        return [kind for kind, c in self.kinds().items() if c.on >= 0.01]

    def numbers(self, steps: int) -> str:
        chains = "; from ".join(f"'{name}': {_ended(c)}" for name, c in self.set_states.items())
        return (f"{_capital(self.label)}: after {steps:,} Gibbs steps from {chains}. Free chains after "
                f"{self.free_steps:,} steps from random images: {_ended(self.free)}. From the blurred image sigma(a) "
                f"the expected number of hidden units that turn on is {self.escape:.2f} of {self.units}.")


def _listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def generation_answer(cd: Generated, pcd: Generated, steps: int) -> list[str]:
    """SPEC 1.7: what the chains of the CD-trained reference (``cd``) and of the PCD-trained run (``pcd``) show;
    ``steps``: the Gibbs steps from the set states."""
    out = [cd.numbers(steps), pcd.numbers(steps)]
    if cd.fallen():
        stays = ("so a chain that reaches it stays" if cd.escape < 1 else
                 "few enough that a chain which reaches it tends to fall back")
        out.append(f"The chains of the {cd.label} from {_listed(cd.fallen())} fall into the all-off hidden state, "
                   "whose p(v=1|h) is sigma(a): the same grey blur for every chain. CD takes its negative statistics "
                   "a few Gibbs steps from a training image, so its gradient lowers the energy near the data but never "
                   "visits, and so never raises, the energy of states far from it. The all-off state is such a state: "
                   f"from sigma(a) {cd.escape:.2f} hidden units turn on on average, {stays}.")
        if cd.held():
            out.append(f"The chains from {_listed(cd.held())} still hold units on: a strong set state keeps the chain "
                       "near the patterns it draws, for a while at least.")
    else:
        out.append(f"None of the chains of the {cd.label} falls into the all-off hidden state: they keep units on "
                   "and end on images that differ, so this model has no such trap within these steps.")
    pcd_why = ("PCD keeps its negative chains running across updates, so they wander away from the data to wherever "
               "the model puts probability, and each update raises the energy there: spurious modes such as the "
               "all-off state are pushed up.")
    if not pcd.fallen():
        out.append(f"{pcd_why} Its free chains end with {pcd.free.on:.1%} of the units on and images that differ by "
                   f"{pcd.free.spread:.3f} per pixel, against {cd.free.on:.1%} and {cd.free.spread:.3f} for the "
                   f"{cd.label}.")
    elif pcd.held():
        out.append(f"{pcd_why} Here that shows only in part: the {pcd.label}'s chains from {_listed(pcd.held())} "
                   f"keep units on, but those from {_listed(pcd.fallen())} collapse as well (from sigma(a) "
                   f"{pcd.escape:.2f} units turn on): this training was too short to remove the all-off mode.")
    else:
        out.append(f"{pcd_why} Here it did not: every chain of the {pcd.label} collapses too (from sigma(a) "
                   f"{pcd.escape:.2f} units turn on), so this training was too short to remove the all-off mode.")
    better, worse = sorted((cd.result, pcd.result), key=_ll, reverse=True)
    out.append(f"In likelihood, {_versus(better, worse)}")
    return out
