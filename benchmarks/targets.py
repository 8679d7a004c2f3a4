"""Wall time of the reference training runs against the GPU targets, in one command.

    python benchmarks/targets.py [--device cuda] [--epochs-scale 1.0] [--data-dir DIR]

For each reference run (RBM 100 epochs, VAE 100 epochs, DCGAN 20 epochs; the RBM and
VAE also with the options that make them faster) it measures

* ``fit``: the training epochs alone on the resident data set (what the target is
  about), and
* ``genlab train``: the whole run as the command line does it (data loading, the
  per-epoch test numbers and checkpoints, the figures), from the run's
  ``train_time_s`` and the wall clock around it,

and prints a markdown table with the targets (RBM < 3 s, VAE < 20 s, DCGAN < 180 s on
an H100). ``--epochs-scale 0.01`` makes a quick trial of the script itself on any
machine (with ``--limit`` for the DCGAN on a CPU); the targets then do not apply.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import data
from genlab.devices import describe, resolve_device


@dataclass
class Case:
    name: str
    target_s: float
    options: dict


CASES = {
    "rbm": [Case("RBM reference, 100 epochs", 3.0, {}),
            Case("RBM reference, 100 epochs, --no-compile", 3.0, {"compile": False})],
    "vae": [Case("VAE reference, 100 epochs", 20.0, {}),
            Case("VAE reference, 100 epochs, --no-compile", 20.0, {"compile": False}),
            Case("VAE reference, 100 epochs, --bf16", 20.0, {"bf16": True})],
    "dcgan": [Case("DCGAN reference, 20 epochs", 180.0, {"epochs": 20})],
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fit_seconds(family: str, options: dict, epochs: int, device: torch.device, source: data.DataSource,
                limit: int | None) -> float:
    """Seconds of ``epochs`` training epochs on the resident training set (after one warm-up epoch)."""
    train = data.load_split(source, "train", device, limit=limit)
    g = torch.Generator(device=device).manual_seed(0)
    run: Callable[[int], object]
    if family == "rbm":
        from genlab.models.rbm import RBM
        from genlab.training.rbm import RBMConfig, fit

        x = data.as_float(train.images)
        rbm = RBM(x.shape[1], 100, 0.1, generator=g, device=device)
        run = lambda n: fit(rbm, x, RBMConfig(**{**options, "epochs": n}), g, progress=False)
    elif family == "vae":
        from genlab.training.vae import VAEConfig, build, fit

        x = data.pixel_rows(train.images)  # uint8, as genlab train vae holds them
        config = VAEConfig(**options)
        model = build(config, x.shape[1], g, device)
        run = lambda n: fit(model, x, config.replace(epochs=n), g, progress=False)
    else:
        from genlab.models.dcgan import DCGAN
        from genlab.training.dcgan import DCGANConfig, fit

        images = data.resize(train.images, 64)
        gan = DCGAN(generator=torch.Generator().manual_seed(0), device=device)
        run = lambda n: fit(gan, images, DCGANConfig(**{**options, "epochs": n}), g, progress=False)
    run(1)  # warm-up (and compilation)
    sync(device)
    start = time.perf_counter()
    run(epochs)
    sync(device)
    return time.perf_counter() - start


def run_seconds(family: str, options: dict, epochs: int, device: torch.device, data_dir: str | None,
                limit: int | None) -> tuple[float, float]:
    """(train_time_s recorded by the run, wall seconds of the whole ``train`` call)."""
    from genlab.families import FAMILIES

    fam = FAMILIES[family]
    config = fam.config(**{**options, "epochs": epochs, "limit": limit})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = fam.train(config, Path(tmp) / "run", device, data_dir, False, False)
        wall = time.perf_counter() - start
        return float(run.meta["train_time_s"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--only", default="rbm,vae,dcgan", help="comma-separated: rbm, vae, dcgan")
    parser.add_argument("--match", default="", help="only the runs whose name this regular expression finds (e.g. 'compile|DCGAN')")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="fraction of each reference run's epochs")
    parser.add_argument("--limit", type=int, help="train on the first N images only (a trial; the targets then do not apply)")
    parser.add_argument("--fit-only", action="store_true", help="time the training epochs only, not the whole genlab train run")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    device = resolve_device(args.device)
    source = data.resolve("mnist", args.data_dir)
    rows = []
    for family in args.only.split(","):
        for case in (c for c in CASES[family] if re.search(args.match, c.name)):
            options = dict(case.options)
            epochs = max(1, round(options.pop("epochs", 100) * args.epochs_scale))
            fit_s = fit_seconds(family, options, epochs, device, source, args.limit)
            print(f"{case.name}: fit {fit_s:.2f} s", flush=True)
            run = "not measured | " if args.fit_only else "{:.2f} | {:.2f}".format(
                *run_seconds(family, options, epochs, device, args.data_dir, args.limit))
            full = args.epochs_scale == 1.0 and args.limit is None
            met = ("yes" if fit_s < case.target_s else "no") if full else "n/a (a trial)"
            rows.append(f"| {case.name} | {epochs} | {fit_s:.2f} | {run} | {case.target_s:.0f} | {met} |")
            print(rows[-1], flush=True)
    print(f"\nDevice: {describe(device)}, torch {torch.__version__}\n")
    print("| run | epochs | fit (s) | genlab train: train_time_s | genlab train: wall (s) | target (s) | met |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    from genlab.errors import GenlabError

    try:
        main()
    except GenlabError as e:  # a bad option or missing data: one line, no traceback
        raise SystemExit(f"targets.py: {e}") from None
