"""genlab: train, inspect, sample and measure RBMs, DBNs, VAEs and DCGANs on MNIST-like images.

    genlab data {download,verify,info}   the data sets
    genlab train MODEL --out RUN ...     train a model family into a run directory
    genlab eval RUN                      measure a run (writes RUN/eval.json)
    genlab sample RUN --n N --out F.png  draw samples from a trained run
    genlab lab TASK --preset P --out DIR run the experiments of a SPEC task

Errors print one line and exit non-zero (2 for invalid options, 1 for bad files
or data). The command is a thin layer over the Python API of the same names.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from genlab.version import __version__
from genlab.errors import ConfigError, GenlabError

DEVICE_HELP = "auto (CUDA when available), cpu, cuda, cuda:N or mps (default: auto)"
DATA_DIR_HELP = "directory holding the data set's four IDX files (default: $GENLAB_DATA_DIR, then ~/.cache/genlab/DATASET)"


class Parser(argparse.ArgumentParser):
    """argparse with errors as one line naming the command."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    from genlab.config import seed_range

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if seed_range(value) is not None:
        raise argparse.ArgumentTypeError(f"expected {seed_range(value)}, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from genlab import config as cfg
    from genlab.evaluate.config import EvalConfig
    from genlab.families import FAMILIES
    from genlab.lab import ALL, TASKS
    from genlab.lab.presets import NAMES

    parser = Parser(prog="genlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, required=True)

    # -- data ------------------------------------------------------------------
    p_data = commands.add_parser("data", help="download, verify or describe a data set")
    data_commands = p_data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser, required=True)
    for name, help_text in (
        ("download", "fetch a known data set from its public mirrors and verify its checksums"),
        ("verify", "check a data set's files: checksums, headers, counts and per-class counts"),
        ("info", "print a data set's shapes, class counts and pixel statistics as JSON"),
    ):
        p = data_commands.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, or (verify/info) a directory of IDX files (default: mnist)")
        p.add_argument("--data-dir", help=DATA_DIR_HELP if name != "download" else "where to store the files (default: ~/.cache/genlab/DATASET)")

    # -- train -----------------------------------------------------------------
    p_train = commands.add_parser("train", help="train a model into a run directory")
    families = p_train.add_subparsers(dest="family", metavar="MODEL", parser_class=Parser, required=True)
    for family in FAMILIES.values():
        p = families.add_parser(family.name, help=family.help, description=family.help)
        p.add_argument("--out", required=True, metavar="RUN", help="run directory to create")
        cfg.add_arguments(p, family.config)
        p.add_argument("--device", default="auto", help=DEVICE_HELP)
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    # -- eval ------------------------------------------------------------------
    p_eval = commands.add_parser("eval", help="measure a trained run; writes RUN/eval.json and prints it")
    p_eval.add_argument("run", metavar="RUN", help="run directory made by 'genlab train'")
    cfg.add_arguments(p_eval, EvalConfig)
    p_eval.add_argument("--device", default="auto", help=DEVICE_HELP)
    p_eval.add_argument("--data-dir", help=DATA_DIR_HELP)
    p_eval.add_argument("--quiet", action="store_true", help="no progress bar")

    # -- sample ----------------------------------------------------------------
    p_sample = commands.add_parser("sample", help="draw new images from a trained run into a PNG grid")
    p_sample.add_argument("run", metavar="RUN", help="run directory made by 'genlab train'")
    p_sample.add_argument("--n", type=_positive_int, default=100, help="number of samples (default: 100)")
    p_sample.add_argument("--out", required=True, metavar="FILE.png", help="PNG file to write")
    p_sample.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    p_sample.add_argument("--device", default="auto", help=DEVICE_HELP)

    # -- lab -------------------------------------------------------------------
    p_lab = commands.add_parser("lab", help="run a SPEC task's experiments and write its figures, tables and report")
    tasks = sorted([*TASKS, ALL])
    p_lab.add_argument("task", metavar="TASK", choices=tasks, help="one of: " + ", ".join(tasks))
    p_lab.add_argument("--preset", choices=sorted(NAMES), default="quick", help="tiny (a smoke test of every step in a few minutes; numbers not meaningful), quick (minutes on a laptop CPU) or full (SPEC reference configs) (default: quick)")
    p_lab.add_argument("--out", required=True, metavar="DIR", help="output directory (finished runs in it are re-used)")
    p_lab.add_argument("--device", default="auto", help=DEVICE_HELP)
    p_lab.add_argument("--data-dir", help=DATA_DIR_HELP)
    p_lab.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


# ----------------------------------------------------------------------------- commands


def cmd_data(args: argparse.Namespace) -> int:
    from genlab import data

    if args.data_command == "download":
        target = data.download(args.dataset, args.data_dir)
        print(f"{args.dataset}: all four files verified in {target}")
        return 0
    source = data.resolve(args.dataset, args.data_dir, download_missing=args.data_command != "verify")
    if args.data_command == "info":
        print(json.dumps(data.info(source), indent=2))
        return 0
    reports, class_counts = data.verify(source)
    for r in reports:
        shape = " x ".join(map(str, r.shape))
        print(f"OK  {r.path}  [{shape}]  sha256 {r.checksum}")
    for split, counts in class_counts.items():
        print(f"{split}: {sum(counts)} images, per class {counts}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from genlab import config as cfg
    from genlab.families import FAMILIES

    family = FAMILIES[args.family]
    config = cfg.from_namespace(family.config, args)
    run = family.train(config, args.out, device=args.device, data_dir=args.data_dir, progress=not args.quiet, overwrite=args.overwrite)
    last = run.log[-1] if run.log else {}
    print(f"{family.name}: run written to {run.path}  (last epoch: {json.dumps(last)})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from genlab import config as cfg
    from genlab.evaluate.config import EvalConfig
    from genlab.families import evaluate

    results = evaluate(args.run, cfg.from_namespace(EvalConfig, args), args.device, args.data_dir, not args.quiet)
    print(json.dumps(results, indent=2))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from genlab.devices import resolve_device
    from genlab.families import sample_images
    from genlab.figures import plots
    from genlab.runs import Run

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out}: expected a .png file name")
    run = Run.open(args.run)
    images = sample_images(run, args.n, args.seed, resolve_device(args.device))
    plots.grid_figure(images, out, title=f"{args.n} samples from {run.path.name} ({run.family})",
                      scale=plots.scale_for(images.shape[-1]))
    print(f"{args.n} samples written to {out}")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from genlab.lab import run_lab

    out = run_lab(args.task, args.preset, args.out, device=args.device, data_dir=args.data_dir, progress=not args.quiet)
    print(f"lab {args.task} ({args.preset}): results in {out}")
    return 0


COMMANDS = {"data": cmd_data, "train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "lab": cmd_lab}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
