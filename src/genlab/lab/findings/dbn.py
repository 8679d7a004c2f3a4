"""What the DBN labs (SPEC tasks 2 and 3) report from their measurements: tables and the numbers' text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from genlab.evaluation.protocol import protocol_note
from genlab.lab.report import Table, form, plural
from genlab.models.dbn import BeliefNet
from genlab.models.rbm import RBM
from genlab.runs import Run

COLUMNS = [  # (eval.json key, column title)
    ("test_loglik", "test log p(v) [nats]"),
    ("test_loglik_method", "method"),
    ("test_loglik_iw", "IS estimate [nats]"),
    ("test_loglik_conservative", "conservative [nats]"),
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
    note = " ".join(part for part in (note, protocol_note({name: results for name, _, results in rows})) if part)
    return Table(title, ["model", *[c for _, c in keys], "train time [s]"], table_rows, note)


def layers(model: BeliefNet) -> str:
    return f"{model.n_visible}-{model.n_h1}-{model.n_h2}"


def loglik_text(results: dict[str, Any]) -> str:
    """'-98.2 nats (ais, -98.5 .. -97.9)' for a table note or observation."""
    low, high = results.get("test_loglik_low"), results.get("test_loglik_high")
    interval = f", {low:.2f} .. {high:.2f}" if low is not None and high is not None and high - low > 0.005 else ""
    return f"{results['test_loglik']:.2f} nats ({results['test_loglik_method']}{interval})"


# ----------------------------------------------------------------------------- measurements the answers quote

CLOSE = 0.1  # two sample-quality numbers without an error bar within 10% of each other are not read as a ranking
RARE_PIXEL = 0.01  # a pixel on in fewer than 1% of the training images (the border of MNIST)
STUCK = 0.01  # a top unit whose mean p(h2 = 1) over the test images is below 1% (off) or above 99% (on)
DUPLICATE = 0.9  # cosine similarity above which two units' weight vectors count as duplicates


@dataclass(frozen=True)
class Estimate:
    """A mean over test images with its standard error (of a quantity, or of a paired difference)."""

    mean: float
    se: float
    n: int

    @classmethod
    def of(cls, values: torch.Tensor) -> Estimate:
        n = values.numel()
        se = values.double().std().item() / math.sqrt(n) if n > 1 else float("nan")
        return cls(values.double().mean().item(), se, n)

    def text(self) -> str:
        return f"{self.mean:.4f} ± {self.se:.4f}"

    @property
    def resolved(self) -> bool:
        """Whether the mean lies more than two standard errors from 0 (for a difference: is one)."""
        return abs(self.mean) > 2 * self.se


@torch.no_grad()
def recon_errors(model: RBM | BeliefNet, x: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Each image's mean squared error per pixel between x and its reconstruction p(v = 1 | h).

    An RBM reconstructs by one up-down pass (``steps`` is not used); a DBN by SPEC 2's procedure:
    the up pass v -> h1 -> h2, ``steps`` Gibbs steps in the top RBM, the down pass h2 -> h1 -> v.
    """
    _, p = model.reconstruct(x, generator) if isinstance(model, RBM) else model.reconstruct(x, steps, generator)
    return (x - p).square().mean(1)


def spread(W: torch.Tensor) -> torch.Tensor:
    """Each column's participation ratio (sum w^2)^2 / (n sum w^4), n the rows: the share of its n inputs
    a unit's weight is spread over (1: evenly over all; 1/n: all on one)."""
    sq = W.double().square()
    return sq.sum(0).square() / (W.shape[0] * sq.square().sum(0)).clamp_min(1e-300)


def duplicates(W: torch.Tensor, threshold: float = DUPLICATE) -> int:
    """How many columns of W point the same way (cosine similarity above ``threshold``) as an earlier column."""
    unit = torch.nn.functional.normalize(W.double().t(), dim=1)
    similar = (unit @ unit.t()).triu(1) > threshold
    return int(similar.any(0).sum())


def stuck(usage: torch.Tensor, margin: float = STUCK) -> tuple[int, int]:
    """(units always off, units always on): mean p(unit = 1) over the inputs below ``margin`` / above 1 - margin."""
    return int((usage < margin).sum()), int((usage > 1 - margin).sum())


def row_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson's correlation of each row of ``a`` with the same row of ``b`` (0 where a row is constant)."""
    a, b = a.double() - a.double().mean(1, keepdim=True), b.double() - b.double().mean(1, keepdim=True)
    norm = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norm > 0, (a * b).sum(1) / norm.clamp_min(1e-300), torch.zeros_like(norm))


def chain_ends(h2: torch.Tensor, p: torch.Tensor) -> tuple[float, int]:
    """For chains ending in top states ``h2`` with images ``p`` (one pixel per top unit): the mean correlation
    of a top state with its image, and how many top states are all off."""
    return row_correlation(h2, p).mean().item(), int((h2.sum(1) == 0).sum())


def top_share(values: torch.Tensor, fraction: float) -> float:
    """The share of the total of (non-negative) ``values`` held by the largest ``fraction`` of them."""
    n = max(1, math.ceil(fraction * values.numel()))
    return (values.flatten().double().topk(n).values.sum() / values.double().sum()).item()


def share_on(values: torch.Tensor, mask: torch.Tensor) -> float:
    """The share of the total of (non-negative) ``values`` that lies where ``mask`` is true."""
    return (values.double()[mask].sum() / values.double().sum()).item()


# ----------------------------------------------------------------------------- the numbers' sentences


def interval(results: dict[str, Any]) -> tuple[float, float]:
    """The test log-likelihood's interval: a point when exact; an end AIS could not give is infinite."""
    if results["test_loglik_method"] == "exact":
        return results["test_loglik"], results["test_loglik"]
    low, high = results.get("test_loglik_low"), results.get("test_loglik_high")
    return -math.inf if low is None else low, math.inf if high is None else high


def apart(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the test log-likelihood intervals of a and b do not overlap."""
    (a_low, a_high), (b_low, b_high) = interval(a), interval(b)
    return a_high < b_low or b_high < a_low


def open_ends(name: str, e: dict[str, Any]) -> str:
    """What is known of ``name``'s number when its interval is open: 'the DBN's is at most -204.89' ('' if closed)."""
    low, high = interval(e)
    if low == -math.inf and high == math.inf:
        return f"the {name}'s has no interval"
    if low == -math.inf:
        return f"the {name}'s is only known to be at most {high:.2f}"
    return f"the {name}'s is only known to be at least {low:.2f}" if high == math.inf else ""


def overlap_reason(a_name: str, a: dict[str, Any], b_name: str, b: dict[str, Any]) -> str:
    """' (the DBN's is only known to be at most ...: ...)' when an open interval is why two overlap, else ''."""
    reasons = [text for text in (open_ends(a_name, a), open_ends(b_name, b)) if text]
    if not reasons:
        return ""
    return f" ({', '.join(reasons)}: where AIS missed part of a model's mass, its interval stays open at one end)"


def sentence(text: str) -> str:
    """``text`` with its first letter in upper case."""
    return text[:1].upper() + text[1:]


def loglik_gap(a_name: str, a: dict[str, Any], b_name: str, b: dict[str, Any]) -> str:
    """'the DBN's bound lies 1.20 nats above the RBM's log p(v); their intervals overlap, so ...'."""
    def what(name: str, e: dict[str, Any]) -> str:
        return f"the {name}'s " + ("bound" if e["test_loglik_method"] == "bound" else "log p(v)")

    diff = a["test_loglik"] - b["test_loglik"]
    high, low = (what(a_name, a), what(b_name, b)) if diff >= 0 else (what(b_name, b), what(a_name, a))
    text = f"{high} lies {abs(diff):.2f} nats above {low}"
    if apart(a, b):
        return text + "; their intervals do not overlap"
    return text + f"; their intervals overlap{overlap_reason(a_name, a, b_name, b)}, so the difference is not resolved"


def measured(e: dict[str, dict[str, Any]]) -> bool:
    """Whether every model's eval dict in ``e`` has the sample-quality numbers (not with --samples 0)."""
    return all("frechet_classifier_distance" in results for results in e.values())


def quality_text(name: str, e: dict[str, Any]) -> str:
    """'DBN: FCD 35.2, classifier score 8.10, coverage 3.25 of 3.32 bits'."""
    return (f"{name}: FCD {e['frechet_classifier_distance']:.1f}, classifier score {e['classifier_score']:.2f}, "
            f"coverage {e['coverage']:.2f} of {e['coverage_max']:.2f} bits")


def quality_setting(e: dict[str, Any]) -> str:
    """How the sample-quality numbers were measured, and what real data scores."""
    return (f"{plural(int(e['metric_samples']), 'sample')} of each model, scored by genlab's own MNIST classifier "
            f"against {plural(int(e['metric_test_images']), 'test image')} (lower FCD is better; real training "
            f"images score FCD {e['frechet_classifier_distance_floor']:.1f} and classifier score "
            f"{e['classifier_score_real']:.2f}; coverage is the entropy of the predicted digits)")


def fcd_versus(a: dict[str, Any], b: dict[str, Any]) -> int:
    """+1 when a's FCD is lower (better) than b's by more than :data:`CLOSE`, -1 when higher, 0 when close."""
    fa, fb = a["frechet_classifier_distance"], b["frechet_classifier_distance"]
    if abs(fa - fb) <= CLOSE * max(fa, fb):
        return 0
    return 1 if fa < fb else -1


def fcd_sentence(a_name: str, a: dict[str, Any], b_name: str, b: dict[str, Any]) -> str:
    """Whether a's samples score better than b's on FCD, in words."""
    fa, fb = a["frechet_classifier_distance"], b["frechet_classifier_distance"]
    verdict = fcd_versus(a, b)
    if verdict == 0:
        return (f"the {a_name}'s FCD ({fa:.1f}) is within {CLOSE:.0%} of the {b_name}'s ({fb:.1f}); the FCD comes "
                "without an error bar, so this run does not rank their samples")
    better = "closer to" if verdict > 0 else "further from"
    return f"the {a_name}'s samples are {better} the test images than the {b_name}'s (FCD {fa:.1f} against {fb:.1f})"


def errors_sentence(name: str, errors: torch.Tensor) -> str:
    """'DBN 0.0791 ± 0.0006': a model's mean reconstruction error with its standard error."""
    return f"{name} {Estimate.of(errors).text()}"


def difference_sentence(a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> str:
    """a's per-image errors against b's on the same images: which is lower, by how much, resolved or not."""
    d = Estimate.of(a - b)
    lower, higher = (a_name, b_name) if d.mean < 0 else (b_name, a_name)
    text = f"the {lower}'s error is lower than the {higher}'s by {abs(d.mean):.4f} ± {d.se:.4f} (paired over the same images)"
    return text + ("" if d.resolved else ", within two standard errors: not resolved")


def top_weights_answer(W2: torch.Tensor, init_std: float, usage: torch.Tensor) -> list[str]:
    """SPEC 2.1 from W2 (h1 x h2) and each top unit's mean p(h2 = 1 | q(h1 | v)) over the test images."""
    n_h1, n_h2 = W2.shape
    size, start = W2.abs().mean().item(), init_std * math.sqrt(2 / math.pi)
    ratio = size / start if start > 0 else float("inf")
    change = ("grew them" if ratio > 1.25 else "shrank them" if ratio < 0.8 else "left them near that size") + \
        (f" ({ratio:.1f}x)" if start > 0 else "")
    s = spread(W2)
    median = s.median().item()
    if median < 0.2:
        shape = ("more concentrated than random Gaussian weights (1/3): a top unit leans on a few h1 units, "
                 "i.e. on a few of RBM 1's features")
    elif median > 0.45:
        shape = "more even than random Gaussian weights (1/3): a top unit weighs all h1 units about alike"
    else:
        shape = "about as spread as random Gaussian weights (1/3): no top unit singles out a few h1 units"
    off, on = stuck(usage)
    dup = duplicates(W2)
    idle = off + on
    return [
        f"W2 holds {n_h1} x {n_h2} weights of mean |w| {size:.3f}; N(0, {init_std:g}^2) at initialisation gives "
        f"{start:.3f}, so training {change}.",
        f"A top unit spreads its weight over {median:.0%} of the {n_h1} h1 units (median participation ratio; "
        f"{s.min().item():.0%} to {s.max().item():.0%} over the units): {shape}.",
        f"Over the test images, {off} of {plural(n_h2, 'top unit')} {form(off, 'is', 'are')} almost always off and {on} "
        f"almost always on (mean p(h2 = 1) below 1% or above 99%)"
        + (f": {idle} {form(idle, 'unit')} {form(idle, 'carries', 'carry')} almost no information about the input"
           if idle else ": every top unit responds to the input")
        + f"; {dup} {form(dup, 'unit has', 'units have')} a weight vector at cosine similarity above {DUPLICATE} "
        "with another's (duplicates).",
        "The 10x10 images are not pictures: the h1 units have no spatial order, so a bright pixel is an h1 unit (one "
        "of RBM 1's detectors of 1.1) that the top unit excites, a dark one a unit it inhibits, and neighbouring "
        "pixels are unrelated. What W2 encodes is which of RBM 1's features tend to be on together.",
    ]


def dbn_reconstruction_answer(rbm: torch.Tensor, dbn: torch.Tensor, dbn_plain: torch.Tensor, steps: int) -> list[str]:
    """SPEC 2.2 from per-image reconstruction errors: the RBM's, the DBN's with ``steps`` Gibbs steps in
    the top RBM, and the DBN's with none (``dbn_plain``), on the same test images."""
    worse = Estimate.of(dbn - rbm)
    out = [
        f"Mean squared error per pixel over {plural(rbm.numel(), 'test image')} (± standard error): "
        f"{errors_sentence('RBM (one up-down pass)', rbm)}; {errors_sentence(f'DBN ({steps} Gibbs steps in the top RBM)', dbn)}; "
        f"{errors_sentence('DBN without a Gibbs step', dbn_plain)}.",
        sentence(difference_sentence("DBN", dbn, "RBM", rbm)) + ". " + (
            "The DBN reconstructs through two stochastic layers more and the top RBM's Gibbs steps, and each of "
            "them loses detail of the input: its reconstructions show the digit the top state encodes rather than "
            "the image that set it." if worse.resolved and worse.mean > 0 else
            "So here the DBN's longer path did not cost measurable accuracy, against the expectation that each "
            "stochastic layer and Gibbs step loses detail of the input." if not worse.resolved else
            "Here the DBN reconstructs better than the RBM, against the expectation that each stochastic layer "
            "and Gibbs step loses detail of the input; the top RBM may pull the reconstruction toward digits the "
            "model knows, which the RBM's single pass does not."),
    ]
    if steps > 0:
        cost = Estimate.of(dbn - dbn_plain)
        out.append(
            f"The {steps} Gibbs {form(steps, 'step')} alone changed the DBN's error by {cost.mean:+.4f} ± {cost.se:.4f} "
            f"(paired): " + (
                "each step lets the top state drift from the one the input set toward states the top RBM finds "
                "probable." if cost.resolved and cost.mean > 0 else
                "the steps pulled the top state toward states the top RBM finds probable, and those reconstruct "
                "these images better." if cost.resolved else
                "within two standard errors, so over this many steps the top RBM's chain stays near the state the "
                "input set."))
    return out


def samples_answer(e: dict[str, dict[str, Any]], model: str, against: list[str]) -> list[str]:
    """SPEC 2.3 / 3.3: the samples of ``model`` against those of each name in ``against``, from eval dicts by name."""
    first = e[model]
    if not measured({name: e[name] for name in [model, *against]}):
        return ["This run measured no sample quality (its eval config draws no samples), so only the figures and the "
                "log-likelihood compare the samples. By log-likelihood: "
                + "; ".join(loglik_gap(model, first, other, e[other]) for other in against) + "."]
    out = [f"Sample quality from {quality_setting(first)}: "
           + "; ".join(quality_text(name, e[name]) for name in [*against, model]) + "."]
    out.append(". ".join(sentence(fcd_sentence(model, first, other, e[other])) for other in against) + ".")
    out.append("By log-likelihood: " + "; ".join(loglik_gap(model, first, other, e[other]) for other in against)
               + ". A DBN's number is a lower bound on its log p(v), so a bound below another model's log p(v) does "
               "not show the DBN to be worse, while a bound above it does show it better.")
    few = [name for name in [*against, model] if e[name]["coverage"] < 0.8 * e[name]["coverage_max"]]
    if few:
        names = " and the ".join([", the ".join(few[:-1]), few[-1]] if len(few) > 1 else few)
        out.append(f"The {names} {form(len(few), 'covers', 'cover')} few digit classes (coverage under 80% of "
                   f"{first['coverage_max']:.2f} bits): {form(len(few), 'its chains stay', 'their chains stay')} near few modes.")
    return out


def dbn_samples_answer(e: dict[str, dict[str, Any]]) -> list[str]:
    """SPEC 2.3 from the eval dicts of the RBM ("RBM") and the DBN ("DBN")."""
    out = samples_answer(e, "DBN", ["RBM"])
    if not measured({name: e[name] for name in ("DBN", "RBM")}):
        return out
    out.insert(2, {
        1: "That is the expected gain of the second layer: the top RBM is trained on RBM 1's hidden states under the "
           "data, so its chains generate h1 states closer to those the data produce than RBM 1's own prior over h "
           "does (Hinton, Osindero & Teh 2006).",
        0: "So the second layer gave no measurable gain in sample quality here.",
        -1: "Here the second layer did not help: the top RBM generates h1 states further from "
            "those the data produce than RBM 1's own chains do.",
    }[fcd_versus(e["DBN"], e["RBM"])])
    out.append("The generation figure starts both from the set states of 1.7 and runs the Gibbs steps in the RBM over "
               "(v, h) and in the DBN's top RBM over (h1, h2), followed by one down pass to the pixels.")
    return out


def wide_top_answer(e: dict[str, dict[str, Any]], moved: float, w1: float, chains: dict[str, tuple[float, int]],
                    cd_k: int, epochs: int) -> list[str]:
    """SPEC 2.4 from the eval dicts ("RBM", "DBN", "784 init", "784": the wide DBN before and after training its
    top RBM), mean |W2 - W1^T| (``moved``) against mean |W1| (``w1``), and for 100 chains of the wide DBN
    ("trained", "init") the mean correlation of a top state with its own image and how many top states are all off."""
    init, wide = e["784 init"], e["784"]
    gap, change = init["test_loglik"] - e["RBM"]["test_loglik"], wide["test_loglik"] - init["test_loglik"]
    if not apart(init, wide):
        verdict = ("did not change it resolvably: the intervals overlap"
                   + overlap_reason("trained DBN", wide, "initial DBN", init).replace(" (", ", ", 1).rstrip(")"))
    elif change > 0:
        verdict = ("raised it, as the greedy argument promises for a top RBM that starts as RBM 1 upside down "
                   "(Hinton, Osindero & Teh 2006); the bound rises while the top RBM models the samples of q(h1|v) "
                   "better than RBM 1 did")
    else:
        verdict = ("lowered it: the greedy argument promises no loss only for maximum-likelihood training of the top "
                   f"RBM, and CD-{cd_k} follows a biased approximation of that gradient")
    out = [
        f"At initialisation the DBN is exactly RBM 1, so its bound {loglik_text(init)} should equal RBM 1's log p(v) "
        f"{loglik_text(e['RBM'])}: they differ by {gap:+.2f} nats, "
        + ("more than their intervals allow: the two log Z estimates (AIS over RBM 1, AIS over the top RBM) disagree."
           if apart(init, e["RBM"]) else "within their intervals."),
        f"{epochs} {form(epochs, 'epoch')} of CD-{cd_k} moved W2 by a mean |W2 - W1^T| of {moved:.4f}, "
        f"{moved / w1:.0%} of mean |W1| ({w1:.4f}), and changed the bound by {change:+.2f} nats to "
        f"{loglik_text(wide)}: training {verdict}.",
        "Against the 100-unit top: " + loglik_gap("784-unit DBN", wide, "100-unit DBN", e["DBN"])
        + f"; the wide DBN has {wide['n_params']:,} parameters against {e['DBN']['n_params']:,}.",
    ]
    if measured({name: e[name] for name in ("RBM", "DBN", "784")}):
        out.append(f"Samples: {quality_text('784-unit DBN', wide)}; {quality_text('100-unit DBN', e['DBN'])}; "
                   f"{quality_text('RBM', e['RBM'])}. "
                   + sentence(fcd_sentence("784-unit DBN", wide, "100-unit DBN", e["DBN"])) + ".")
    (r, off), (r_init, off_init) = chains["trained"], chains["init"]
    text = (f"The top layer has one unit per pixel, so its states are shown as 28x28 images. Over 100 chains, a top "
            f"state correlates with its own image p(v = 1 | h1) at r = {r:.2f} on average ({off} all-off top "
            f"{form(off, 'state')}); the same chains of the untrained DBN, whose h2 is a sample of RBM 1's pixels, "
            f"give r = {r_init:.2f} ({off_init} all-off). ")
    if r >= 0.5:
        text += "The trained top layer still works as a second copy of the pixels: its states look like digits."
    elif r_init >= 0.5:
        text += "Training has turned h2 from a copy of the pixels into features of its own."
    else:
        text += ("With r below 0.5 for both, neither is a faithful copy of the pixels" + (
            ": all-off top states (a chain fallen into the state where every unit is off) have no pattern to "
            "correlate." if off + off_init else "."))
    out.append(text)
    return out


def weights_apart_answer(R1: torch.Tensor, W1_down: torch.Tensor, W1: torch.Tensor, pixel_mean: torch.Tensor,
                         epochs: int, lr: float) -> list[str]:
    """SPEC 3.1 from the recognition and generative weights after fine-tuning, the DBN's W1 they started
    from, and each pixel's mean over the training images."""
    diff = (R1 - W1_down).abs()
    size = W1.abs().mean().item()
    mean = diff.mean().item()
    moved_r, moved_g = (R1 - W1).abs().mean().item(), (W1_down - W1).abs().mean().item()
    more = "R1 (the sleep phase)" if moved_r > moved_g else "W1' (the wake phase)"
    rare = pixel_mean < RARE_PIXEL
    on_rare, rare_pixels = share_on(diff.sum(1), rare), rare.double().mean().item()
    units = top_share(diff.sum(0), 0.1)
    out = [
        f"Both started as the DBN's W1. After {epochs} {form(epochs, 'epoch')} of up-down at lr {lr:g}, mean "
        f"|R1 - W1'| is {mean:.4f} (max {diff.max().item():.3f}), {mean / size:.1%} of mean |W1| ({size:.4f}): "
        + ("the two are still nearly tied." if mean < 0.05 * size else "they have come apart."),
        f"R1 moved {moved_r:.4f} from W1 on average and W1' {moved_g:.4f}: {more} changed more "
        f"({max(moved_r, moved_g) / max(min(moved_r, moved_g), 1e-12):.1f}x).",
    ]
    where = (f"Where: the 10% of hidden units with the largest differences hold {units:.0%} of the total (10% if "
             f"spread evenly); {on_rare:.0%} of it lies on the {rare_pixels:.0%} of pixels that are on in fewer than "
             f"{RARE_PIXEL:.0%} of the training images.")
    if rare_pixels > 0 and on_rare > 1.2 * rare_pixels:
        where += (" Those pixels hold more than their share: W1' learns from data (wake: s1 (v - v_new)), which has "
                  "no ink there, while R1 learns from the model's own fantasies (sleep: v_down (s1_down - s1_new)), "
                  "which do put ink there.")
    else:
        where += (" Those pixels hold no more than their share: the differences sit where digits have ink, where "
                  "both phases' inputs (data for W1', fantasies for R1) are on and their updates disagree.")
    out.append(where + " The colour bar of the |R1 - W1'| figure gives the scale.")
    return out


def finetune_reconstruction_answer(errors: dict[str, torch.Tensor], steps: int) -> list[str]:
    """SPEC 3.2 from per-image reconstruction errors on the same test images, by name: "RBM", "DBN" and
    "fine-tuned" (``steps`` Gibbs steps in the top RBM), "DBN plain" and "fine-tuned plain" (none)."""
    rbm, dbn, ft = errors["RBM"], errors["DBN"], errors["fine-tuned"]
    gain = Estimate.of(ft - dbn)
    share = abs(gain.mean) / Estimate.of(dbn).mean
    slightly = f", if only by {share:.1%} of the DBN's error" if share < 0.05 else ""
    return [
        f"Mean squared error per pixel over {plural(rbm.numel(), 'test image')} (± standard error): "
        f"{errors_sentence('RBM', rbm)}; {errors_sentence(f'DBN ({steps} Gibbs steps in the top RBM)', dbn)}; "
        f"{errors_sentence(f'fine-tuned DBN ({steps} steps)', ft)}. Without a Gibbs step: "
        f"{errors_sentence('DBN', errors['DBN plain'])}; {errors_sentence('fine-tuned DBN', errors['fine-tuned plain'])}.",
        sentence(difference_sentence("fine-tuned DBN", ft, "DBN", dbn)) + ". " + (
            f"Fine-tuning helped reconstruction{slightly}: the wake phase trains W1' to regenerate the data from the "
            "recognition model's h1, and the top RBM learns from those h1 states." if gain.resolved and gain.mean < 0 else
            "So fine-tuning did not measurably change reconstruction here: up-down optimises the generative model's "
            "fit to the data, not the up-then-down pass this measures." if not gain.resolved else
            "Fine-tuning made reconstruction worse: up-down optimises the generative model's fit to the data, and "
            "untying R1 from W1' lets the up and the down pass stop being each other's inverse."),
        sentence(difference_sentence("fine-tuned DBN", ft, "RBM", rbm)) + ". The RBM reconstructs through one "
        "stochastic layer, the DBNs through three and the top RBM's Gibbs steps.",
    ]


def finetune_samples_answer(e: dict[str, dict[str, Any]]) -> list[str]:
    """SPEC 3.3 from the eval dicts of "RBM", "DBN" and "fine-tuned DBN"."""
    out = samples_answer(e, "fine-tuned DBN", ["DBN", "RBM"])
    ft, dbn = e["fine-tuned DBN"], e["DBN"]
    if not measured(e):
        return out
    out.insert(2, {
        1: "Fine-tuning improved the samples: the sleep phase trains R1 on the model's own fantasies and the wake "
           "phase W1' on the data, so the down pass from the top RBM's states draws closer to the data.",
        0: "So fine-tuning gave no measurable change in sample quality here.",
        -1: "Fine-tuning made the samples worse here, against the expectation that up-down improves the generative "
            "model.",
    }[fcd_versus(ft, dbn)])
    return out
