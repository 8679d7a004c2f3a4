"""Data-parallel scaling on one machine: training images per second in 1 and W processes, measured in one run.

    python benchmarks/scaling.py [--families rbm,vae] [--processes 2] [--epochs 3] [--repeats 2] [--device cpu]

Each family trains its reference config (``genlab train FAMILY``, SPEC's defaults) on the
60,000 MNIST training images, in turns (round r runs every setup once, so that a slow
phase of the machine slows them alike):

* 1 process, 1 thread: the unit of work each rank has under torchrun with ``OMP_NUM_THREADS=1``;
* 1 process, W threads: what a user runs on this machine without a launcher;
* W processes, 1 thread each: ``torchrun --standalone --nproc_per_node=W -m genlab train ...`` (gloo on
  the CPU, NCCL on GPUs with one process per GPU).

Images/s is epochs x images over the run's ``train_time_s`` (config.json: the training loop and its
per-epoch evaluations, without starting Python and reading the data). Efficiency is the W-process
rate over W times the one-process, one-thread rate. Prints a markdown table (the best of the repeats)
and the machine it ran on. Data: ``$GENLAB_DATA_DIR`` or the usual lookup (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def train(family: str, out: Path, processes: int, threads: int, epochs: int, device: str) -> float:
    """Train ``family``'s reference config for ``epochs`` epochs in ``out``; returns its train_time_s."""
    command = ["-m", "genlab", "train", family, "--out", str(out), "--epochs", str(epochs), "--device", device, "--quiet"]
    if processes > 1:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *command]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, *command], env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "config.json").read_text())["train_time_s"]


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return f"{name} ({os.cpu_count()} logical CPUs; {' '.join(f for f in ('avx2', 'avx512f') if f in flags) or 'no AVX2'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="rbm,vae", help="comma-separated: rbm, vae, dcgan, dbn")
    parser.add_argument("--processes", type=int, default=2, help="W, the processes of the data-parallel runs")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    w = args.processes
    setups = [("1 process, 1 thread", 1, 1), (f"1 process, {w} threads", 1, w), (f"{w} processes, 1 thread each", w, 1)]
    images = 60_000
    best: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            for r in range(args.repeats):
                for name, processes, threads in setups:
                    seconds = train(family, Path(tmp) / f"{family}-{processes}-{threads}-{r}", processes, threads,
                                    args.epochs, args.device)
                    rate = args.epochs * images / seconds
                    best[family, name] = max(best.get((family, name), 0.0), rate)
                    print(f"{family} round {r + 1}: {name}: {seconds:.2f} s, {rate:,.0f} images/s", file=sys.stderr)
    print(f"Machine: {cpu_name()}; torch {torch.__version__}; {args.epochs} epochs of the 60,000 MNIST images, "
          f"best of {args.repeats}\n")
    print("| family | setup | images/s | vs 1 process, 1 thread | efficiency |")
    print("|---|---|---|---|---|")
    for family in args.families.split(","):
        unit = best[family, setups[0][0]]
        for name, processes, threads in setups:
            rate = best[family, name]
            workers = processes * threads
            print(f"| {family} | {name} | {rate:,.0f} | {rate / unit:.2f}x | {rate / (workers * unit):.0%} |")


if __name__ == "__main__":
    main()
