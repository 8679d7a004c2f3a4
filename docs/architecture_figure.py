"""Draws docs/images/architecture.png from the layers contract in pyproject.toml (the one lint-imports checks).

    python docs/architecture_figure.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "architecture.png"

# What each layer holds, in a few words.
ROLES = {
    "cli": "genlab data / train / eval / sample / lab",
    "api": "genlab.training / load / sample / evaluate",
    "lab": "each SPEC task's experiments, presets, findings, reports",
    "families": "a run directory of each family: train, load, sample, evaluate",
    "estimators": "RBMEstimator (scikit-learn)",
    "train": "configs, the loop, run directories",
    "runs": "config.json, model, log, eval.json",
    "figures": "figures of models",
    "metrics": "sample quality: own classifier, FCD",
    "evaluate": "estimators: exact / AIS log Z, bounds, IWAE, probes",
    "accel": "fast paths: Threefry, C and Triton kernels, compile, CUDA graphs",
    "algorithms": "one update each: CD-k, greedy, up-down, VAE, GAN",
    "models": "the math: RBM, DBN, VAE, DCGAN",
    "data": "IDX, data sets", "files": "atomic writes", "config": "options",
    "devices": "devices", "migrations": "old runs",
    "rng": "generators", "errors": "errors", "version": "version",
}


def layers() -> list[list[str]]:
    contract = next(c for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
                    if c["type"] == "layers")
    out = []
    for layer in contract["layers"]:
        names = [name.strip().removeprefix("genlab.") for part in layer.split("|") for name in part.split(":")]
        out.append(names)
    return out


def main() -> None:
    rows = layers()
    fig, ax = plt.subplots(figsize=(10, 0.62 * len(rows) + 0.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.6, len(rows) - 0.15)
    ax.axis("off")
    for i, names in enumerate(rows):
        y = len(rows) - 1 - i
        width = 9.0 / len(names)
        for j, name in enumerate(names):
            x = 0.5 + j * width
            colour = "#fde2c8" if name == "accel" else "#dbe9f6" if name in ("models", "algorithms") else "#eeeeee"
            ax.add_patch(FancyBboxPatch((x + 0.05, y + 0.12), width - 0.1, 0.62, boxstyle="round,pad=0.02",
                                        facecolor=colour, edgecolor="0.35"))
            small = len(names) > 2
            ax.text(x + width / 2, y + 0.55, f"genlab.{name}", ha="center", va="center", fontsize=7.5 if small else 9.5,
                    weight="bold")
            ax.text(x + width / 2, y + 0.3, ROLES.get(name, ""), ha="center", va="center", fontsize=5.5 if small else 7.5,
                    color="0.25")
        if i < len(rows) - 1:
            ax.annotate("", xy=(9.75, y + 0.12 - 0.26), xytext=(9.75, y + 0.12), arrowprops={"arrowstyle": "->", "color": "0.4"})
    ax.text(5, -0.4, "each layer imports only the layers below it (arrows); only genlab.training imports genlab.accel; "
            "the families are independent within a layer", ha="center", fontsize=7.5, color="0.3")
    fig.suptitle("genlab's layers, as pyproject.toml's import-linter contract states them", fontsize=11)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=130, bbox_inches="tight")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
