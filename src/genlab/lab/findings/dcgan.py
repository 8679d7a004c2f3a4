"""What the DCGAN lab (SPEC task 5) reports from its measurements: the table and observations computed from it."""

from __future__ import annotations

from typing import Any

from genlab.lab.presets import DCGAN_VARIANTS as VARIANTS
from genlab.lab.report import Table
from genlab.runs import Run

FCD, FCD_FLOOR = "frechet_classifier_distance", "frechet_classifier_distance_floor"  # eval.json keys


def runs_label(name: str) -> str:
    return next(label for label, short, _ in VARIANTS if short == name)


def summary_table(runs: dict[str, Run], results: dict[str, dict[str, Any]], note: str) -> Table:
    rows = []
    for label, name, _ in VARIANTS:
        r, log = results[name], runs[name].log
        rows.append([label, r[FCD], r[FCD_FLOOR], r["classifier_score"], r["coverage"], r["coverage_min_share"],
                     log[-1]["d_real"], log[-1]["d_fake"], sum(e["d_updates"] for e in log), sum(e["g_updates"] for e in log),
                     runs[name].meta["train_time_s"], runs[name].meta.get("train_cpu_s")])
    columns = ["variant", "FCD", "FCD floor", "classifier_score", "coverage (bits)", "rarest class share",
               "D(x)", "D(G(z))", "D updates", "G updates", "training time (s)", "CPU time (s)"]
    note = (f"{note}. FCD: Frechet distance of the features of genlab's classifier to the test set's (lower is "
            f"better; not the Inception FID of papers); FCD floor: "
            f"the same for real training images; classifier_score: at most 10; coverage: entropy of the predicted "
            f"labels, at most log2(10) = 3.32 bits. D(x), D(G(z)): mean over the last epoch. Training time: wall clock; CPU time: of all threads.")
    return Table("DCGAN variants", columns, rows, note)


def time_text(run: Run) -> str:
    """'412 s (CPU 700 s)': wall clock and, where recorded, CPU time."""
    cpu = run.meta.get("train_cpu_s")
    return f"{run.meta['train_time_s']:.0f} s" + (f" (CPU {cpu:.0f} s)" if cpu is not None else "")


def reference_observation(r: dict[str, Any]) -> str:
    return (f"The reference DCGAN's samples have an FCD of {r[FCD]:.2f} against a real-data floor of {r[FCD_FLOOR]:.2f}, "
            f"a classifier score of {r['classifier_score']:.2f} (real test images: {r['classifier_score_real']:.2f}) "
            f"and a label entropy of {r['coverage']:.2f} of {r['coverage_max']:.2f} bits, the rarest class taking "
            f"{100 * r['coverage_min_share']:.1f}% of the samples.")


def compare_observations(results: dict[str, dict[str, Any]], runs: dict[str, Run], base: str, others: tuple[str, ...]) -> list[str]:
    """One sentence per variant: its FCD, score and coverage against the base run's, and the time it took."""
    b = results[base]
    lines = []
    for name in others:
        r = results[name]
        better = "lower (better)" if r[FCD] < b[FCD] else "higher (worse)"
        lines.append(
            f"{runs_label(name)}: FCD {r[FCD]:.2f}, {better} than the reference's {b[FCD]:.2f} "
            f"({r[FCD] / max(b[FCD], 1e-12):.2f}x); classifier score {r['classifier_score']:.2f} vs "
            f"{b['classifier_score']:.2f}; coverage {r['coverage']:.2f} vs {b['coverage']:.2f} bits; "
            f"{time_text(runs[name])} vs {time_text(runs[base])} of training."
        )
        if r["coverage"] < b["coverage"] - 0.25 or r["coverage_min_share"] < 0.25 * b["coverage_min_share"]:
            lines.append(f"{runs_label(name)} spreads its samples less evenly over the classes ({r['coverage']:.2f} bits, "
                         f"the rarest class {100 * r['coverage_min_share']:.1f}% of the samples, against "
                         f"{100 * b['coverage_min_share']:.1f}%): a sign of mode collapse.")
    best = min((base, *others), key=lambda n: results[n][FCD])
    lines.append(f"Lowest FCD of these: {runs_label(best)} ({results[best][FCD]:.2f}).")
    return lines
