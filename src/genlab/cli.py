"""genlab: train, inspect, sample and measure RBMs, DBNs, VAEs and DCGANs on MNIST-like images.

    genlab data {download,verify,info}   the data sets
    genlab train MODEL --out RUN ...     train a model family into a run directory
    genlab eval RUN                      measure a run (writes RUN/eval.json)
    genlab sample RUN --n N --out F.png  draw samples from a trained run
    genlab compare RUN...                runs side by side: the options that differ, their eval.json numbers
    genlab lab TASK --preset P --out DIR run the experiments of a lab task

Errors print one line and exit non-zero (2 for invalid options, 1 for bad files
or data). The command is a thin layer over the Python API of the same names.
Under torchrun every process runs the command and rank 0 alone prints its output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from genlab.version import __version__
from genlab.errors import ConfigError, GenlabError, GenlabWarning

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


# ----------------------------------------------------------------------------- each command's options


def data_options(p_data: argparse.ArgumentParser) -> None:
    data_commands = p_data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser, required=True)
    for name, help_text in (
        ("download", "fetch a known data set from its public mirrors and verify its checksums"),
        ("verify", "check a data set's files: checksums, headers, counts and per-class counts"),
        ("info", "print a data set's shapes, class counts and pixel statistics as JSON"),
    ):
        p = data_commands.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, or (verify/info) a directory of IDX files (default: mnist)")
        p.add_argument("--data-dir", help=DATA_DIR_HELP if name != "download" else "where to store the files (default: ~/.cache/genlab/DATASET)")


def train_options(p_train: argparse.ArgumentParser) -> None:
    from genlab import config as cfg
    from genlab.families import FAMILIES

    families = p_train.add_subparsers(dest="family", metavar="MODEL", parser_class=Parser, required=True)
    for family in FAMILIES.values():
        p = families.add_parser(family.name, help=family.help, description=family.help)
        p.add_argument("--out", required=True, metavar="RUN", help="run directory to create")
        cfg.add_arguments(p, family.config)
        p.add_argument("--device", default="auto", help=DEVICE_HELP)
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
        p.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out from its last checkpoint (the same options)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")


def eval_options(p_eval: argparse.ArgumentParser) -> None:
    from genlab import config as cfg
    from genlab.evaluation.config import EvalConfig

    p_eval.add_argument("run", metavar="RUN", help="run directory made by 'genlab train'")
    cfg.add_arguments(p_eval, EvalConfig)
    p_eval.add_argument("--device", default="auto", help=DEVICE_HELP)
    p_eval.add_argument("--data-dir", help=DATA_DIR_HELP)
    p_eval.add_argument("--quiet", action="store_true", help="no progress bar")


def sample_options(p_sample: argparse.ArgumentParser) -> None:
    p_sample.add_argument("run", metavar="RUN", help="run directory made by 'genlab train'")
    p_sample.add_argument("--n", type=_positive_int, default=100, help="number of samples (default: 100)")
    p_sample.add_argument("--out", required=True, metavar="FILE.png", help="PNG file to write")
    p_sample.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    p_sample.add_argument("--device", default="auto", help=DEVICE_HELP)
    p_sample.add_argument("--unfinished", action="store_true",
                          help="sample a run whose training has not finished (its last saved epoch)")


def compare_options(p_compare: argparse.ArgumentParser) -> None:
    p_compare.add_argument("runs", nargs="+", metavar="RUN", help="run directories made by 'genlab train'")
    p_compare.add_argument("--csv", metavar="FILE", help="also write the table to FILE as CSV, one line per run")


def lab_options(p_lab: argparse.ArgumentParser) -> None:
    from genlab.lab import ALL, EXTRA, PRESET_NAMES, TASKS
    from genlab.lab.presets import CPU_BUDGET_S, QUICK_BUDGET_S

    tasks = "; ".join(f"{name} ({task.title})" for name, task in TASKS.items())
    extra = "; ".join(f"{name} ({task.title}; presets {', '.join(task.presets)})" for name, task in EXTRA.items())
    p_lab.add_argument("task", metavar="TASK", choices=[*TASKS, ALL, *EXTRA],
                       help=f"{tasks}; {ALL} (every task, then one report); {extra}")
    p_lab.add_argument("--preset", choices=PRESET_NAMES, default="quick", help="tiny (a smoke test of every step in a few minutes; numbers not meaningful), quick (lab all planned for "
                       f"{QUICK_BUDGET_S / 60:g} minutes on a 2-core CPU, from measured costs), cpu (lab all planned for {CPU_BUDGET_S / 60:g} minutes "
                       "on a 2-core CPU, tasks 1-4 first; literature: about an hour), full (the reference configs of every task) (default: quick)")
    p_lab.add_argument("--out", required=True, metavar="DIR", help="output directory (finished runs in it are re-used)")
    p_lab.add_argument("--dataset", metavar="NAME|DIR", help="train and measure every run on mnist, fashion-mnist, or a directory holding the four IDX files (default: each preset's, mnist)")
    p_lab.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="change a setting of the preset's runs, repeatable: FIELD (every run that has it, e.g. epochs=5), "
                            "FAMILY.FIELD (e.g. rbm.cd_k=3, vae.lr=1e-3) or eval.FIELD (e.g. eval.samples=0); "
                            "changed runs are trained anew, never taken from runs without the change")
    p_lab.add_argument("--device", default="auto", help=DEVICE_HELP)
    p_lab.add_argument("--data-dir", help=DATA_DIR_HELP)
    p_lab.add_argument("--quiet", action="store_true", help="no progress bars")
    p_lab.add_argument("--pdf", action="store_true", help="also print the report to report.pdf (a hand-in: table of "
                       "contents, each task on new pages) with headless Chromium or Chrome, found on PATH or at $GENLAB_CHROME")
    p_lab.add_argument("--jobs", type=int, metavar="N",
                       help="train up to N runs at once, each in its own process on this machine (default: one after another)")
    p_lab.add_argument("--executor", choices=["local", "ray"],
                       help="local (processes on this machine; --jobs N of them, default one per CPU) or ray (every run "
                            "a Ray task; needs pip install 'genlab[ray]') (default: one run after another, no executor)")
    p_lab.add_argument("--address", metavar="ADDR",
                       help="with --executor ray: the Ray cluster to use (auto: the one this machine belongs to; "
                            "default: a local Ray started for this call)")


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
    from genlab import api, distributed
    from genlab import config as cfg
    from genlab.families import FAMILIES

    options = cfg.options_given(FAMILIES[args.family].config, args)
    try:
        run = api.train(args.family, args.out, device=args.device, data_dir=args.data_dir, progress=not args.quiet,
                        overwrite=args.overwrite, resume=args.resume, **options)
    finally:
        distributed.teardown()  # leave the launcher's process group (under torchrun)
    print(train_summary(args.family, run.path, run.log, run.meta.get("train_time_s", 0.0)))
    return 0


# the numbers of a training log's last entry that a summary shows (the first two present), with their names
HEADLINES = {
    "test_loglik": "test log-likelihood",
    "test_elbo": "test ELBO",
    "recon_error": "reconstruction error",
    "test_recon_error": "test reconstruction error",
    "train_loss": "training loss",
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
}


def train_summary(family: str, path: Path, log: list[dict[str, Any]], train_time_s: float) -> str:
    """One line, e.g. ``rbm: 10 epochs in 23.4 s, run written to runs/x (reconstruction error 0.04121, ...)``."""
    last = log[-1] if log else {}
    epochs = last.get("epoch", 0)
    numbers = [f"{label} {last[key]:.4g}" for key, label in HEADLINES.items()
               if isinstance(last.get(key), int | float) and not isinstance(last[key], bool)]
    headline = f" ({', '.join(numbers[:2])})" if numbers else ""
    return (f"{family}: {epochs} epoch{'' if epochs == 1 else 's'} in {train_time_s:.1f} s, "
            f"run written to {path}{headline}")


def cmd_eval(args: argparse.Namespace) -> int:
    from genlab import api, distributed
    from genlab import config as cfg
    from genlab.evaluation.config import EvalConfig

    options = cfg.options_given(EvalConfig, args)
    try:
        results = api.evaluate(args.run, device=args.device, data_dir=args.data_dir, progress=not args.quiet, **options)
        main_rank = distributed.current().main
    finally:
        distributed.teardown()  # leave the launcher's process group (under torchrun)
    print(json.dumps(results, indent=2))
    sys.stdout.flush()  # the notes come after the results they are about
    for note in results["notes"] if main_rank else []:  # rank 0 speaks for the job
        print(textwrap.fill(note, 100, initial_indent="note: ", subsequent_indent="      "), file=sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from genlab import api
    from genlab.figures import plots
    from genlab.runs import Run

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out}: expected a .png file name")
    run = Run.open(args.run)
    images = api.sample(run, args.n, args.seed, args.device, args.unfinished)
    unfinished = "" if run.finished else ", unfinished"
    plots.grid_figure(images, out, title=f"{args.n} samples from {run.path.name} ({run.family}{unfinished})",
                      scale=plots.scale_for(images.shape[-1]))
    print(f"{args.n} samples written to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from genlab import api
    from genlab.comparison import table_text, write_csv

    rows = api.compare(args.runs)
    print(table_text(rows))
    if args.csv:
        print(f"{len(rows)} runs written to {write_csv(rows, args.csv)}")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from genlab.lab import run_lab
    from genlab.lab.executor import make_executor

    executor = make_executor(args.jobs, args.executor, args.address, args.device)
    out = run_lab(args.task, args.preset, args.out, device=args.device, data_dir=args.data_dir, progress=not args.quiet,
                  dataset=args.dataset, overrides=args.overrides, executor=executor, pdf=args.pdf)
    print(f"lab {args.task} ({args.preset}): results in {out}" + (", report.pdf written" if args.pdf else ""))
    return 0


# ----------------------------------------------------------------------------- the parser and main


class Command(NamedTuple):
    help: str
    # adds the command's options to its parser (importing what they are derived from)
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    "data": Command("download, verify or describe a data set", data_options, cmd_data),
    "train": Command("train a model into a run directory", train_options, cmd_train),
    "eval": Command("measure a trained run; writes RUN/eval.json and prints it", eval_options, cmd_eval),
    "sample": Command("draw new images from a trained run into a PNG grid", sample_options, cmd_sample),
    "compare": Command("show runs side by side: the options that differ and their eval.json numbers",
                       compare_options, cmd_compare),
    "lab": Command("run a lab task's experiments and write its figures, tables and report", lab_options, cmd_lab),
}


def build_parser(with_options: Collection[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """genlab's parser. It lists every command with its help; only the commands in ``with_options``
    get their options, which import the models (``genlab --help`` and ``--version`` stay fast)."""
    parser = Parser(prog="genlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, required=True)
    for name, command in COMMANDS.items():
        p = commands.add_parser(name, help=command.help)
        if name in with_options:
            command.options(p)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The command in ``argv``: its first word that is not an option (genlab's own options take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the genlab command ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    try:
        try:
            return run_command(sys.argv[1:] if argv is None else list(argv))
        finally:
            sys.stdout.flush()  # so that a closed pipe shows here, not as a traceback at exit
    except BrokenPipeError:
        # The reader went away (genlab ... | head): stop without a traceback. Exit 1, as Python does on
        # EPIPE: the output is incomplete, which a pipeline under `set -o pipefail` should see. stdout
        # goes to devnull so that Python's own flush at exit has nothing to fail on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def run_command(argv: list[str]) -> int:
    """Parse ``argv`` and run its command; the errors a user can cause become one line on stderr, and so do
    genlab's warnings."""
    name = command_named(argv)
    try:
        args = build_parser([name] if name else []).parse_args(argv)
        with warnings_in_one_line(), rank_0_speaks():
            return COMMANDS[args.command].run(args)
    except GenlabError as e:
        return fail(str(e), e.exit_code)
    except BrokenPipeError:
        raise  # not an error of the command: main stops quietly
    except OSError as e:
        return fail(os_error_message(e), 1)
    except out_of_memory_errors():
        return fail(f"ran out of memory; try {SMALLER.get(name or '', 'smaller sizes')}", 1)
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def warnings_in_one_line() -> Iterator[None]:
    """Inside the block, a :class:`GenlabWarning` that Python shows is ``genlab: warning: MESSAGE`` (no file
    and line); other warnings keep Python's format."""
    python_format = warnings.formatwarning

    def one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 line: str | None = None) -> str:
        if issubclass(category, GenlabWarning):
            return f"genlab: warning: {message}\n"
        return python_format(message, category, filename, lineno, line)

    warnings.formatwarning = one_line
    try:
        yield
    finally:
        warnings.formatwarning = python_format


@contextlib.contextmanager
def rank_0_speaks() -> Iterator[None]:
    """Inside the block, a process that a launcher (torchrun) started as a rank other than 0 prints nothing on
    stdout and shows no warnings: rank 0 speaks for the job. Errors still come from every rank (each names
    what failed there)."""
    if int(os.environ.get("RANK", "0")) == 0 or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fail(message: str, code: int) -> int:
    print(f"genlab: error: {message}", file=sys.stderr)
    return code


def os_error_message(e: OSError) -> str:
    """``PATH: STRERROR`` for an error of the file system, naming both paths of a rename or copy."""
    paths = [str(name) for name in (e.filename, e.filename2) if name is not None]
    if not paths or not e.strerror:
        return str(e)
    return f"{' -> '.join(paths)}: {e.strerror}"


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """MemoryError, and PyTorch's error for a device whose memory ran out (once PyTorch is loaded)."""
    torch = sys.modules.get("torch")
    return (MemoryError,) if torch is None else (MemoryError, torch.cuda.OutOfMemoryError)


# what to make smaller when memory runs out, by command
SMALLER = {
    "train": "a smaller --batch-size, --limit or model",
    "eval": "a smaller --test-limit, --samples, --ais-runs or --iwae-k",
    "sample": "a smaller --n",
    "lab": "--preset quick or tiny",
}
