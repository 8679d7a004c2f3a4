"""genlab's training speed against what users would otherwise write, measured in one run.

    python benchmarks/bench.py [--repeats 3] [--device cpu] [--only rbm,vae,dcgan,rate] [--repeat-slow-rounds]

Prints a markdown table (median of the repeats) and the machine it ran on. The
variants of one benchmark are warmed up, then timed in turns (round r runs each of
them once), so that a slow phase of the machine slows them alike. With
``--repeat-slow-rounds`` a round is timed again when a probe before or after it finds
that the threads do not scale (a virtual machine whose second core comes and goes),
so that the table describes the machine with all its cores. Each peer does the same
arithmetic on the same data:

* RBM, SPEC reference config (784-100, CD-1, batch 100, lr 0.1), one epoch over the
  60,000 MNIST images: genlab's ``fit`` (as is: the path measured fastest on this machine; with
  ``--no-compile``, the plain loop; and through the torch.compile'd steps instead of genlab's own CD-1 kernels)
  vs scikit-learn's ``BernoulliRBM`` (100
  components, batch 100, lr 0.1, one iteration) vs a typical notebook loop (a
  per-sample ``Dataset`` turning each image into a tensor, a ``DataLoader`` with
  batch 100, the same CD-1 arithmetic with ``torch.bernoulli``).
* VAE, SPEC reference config, one epoch: genlab vs the same model through a
  ``DataLoader`` loop.
* DCGAN: training images per second, genlab vs a plain loop of the same networks.
* The RBM epoch's arithmetic rate (its multiply-adds over its time) against this
  machine's dense matrix-multiply rate measured in the same run.

Data: $GENLAB_DATA_DIR or the usual lookup (see README).
"""

from __future__ import annotations

import argparse
import collections
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genlab import data
from genlab.devices import describe, resolve_device


@dataclass
class Result:
    name: str
    variant: str
    seconds: list[float]
    unit: str = "s/epoch"
    work: float = 0.0  # items per measured call, for rates

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Case:
    """One row of the table to measure: ``run()`` does ``per_call`` epochs (or one pass) of one variant."""

    name: str
    variant: str
    run: Callable[[], object]
    unit: str = "s/epoch"
    work: float = 0.0
    per_call: int = 1
    compiles: bool = False


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def threads_scale(size: int = 1024, calls: int = 12) -> float:
    """How many times faster this process's threads run a float32 size^3 product than one thread does: a
    probe of how many cores the machine gives it right now (about half a second: shorter probes missed
    this VM's slow state, in which its second core runs only part of the time)."""
    threads = torch.get_num_threads()
    a, b = torch.randn(size, size), torch.randn(size, size)

    def rate(n: int) -> float:
        torch.set_num_threads(n)
        a @ b
        start = time.perf_counter()
        for _ in range(calls):
            a @ b
        return calls / (time.perf_counter() - start)

    try:
        return rate(threads) / rate(1)
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- RBM


def rbm_genlab(x: torch.Tensor, device: torch.device, epochs: int = 1, torch_steps: bool = False,
               **options) -> Callable[[], object]:
    """``epochs`` of genlab's training epochs, as ``fit`` runs them; with ``torch_steps`` through the
    torch.compile'd minibatch steps, never genlab's own CD kernels. Every call
    continues the same run, so that on CUDA each variant's calls after the warm-up replay its CUDA graph."""
    from genlab.accel import rbm_epochs
    from genlab.accel.steps import CompiledSteps
    from genlab.algorithms.cd import CDState, rbm_step
    from genlab.models.rbm import RBM
    from genlab.training.rbm import RBMConfig, train_epoch

    g = torch.Generator(device=device).manual_seed(0)
    rbm, cfg, state = RBM(784, 100, 0.1, generator=g, device=device), RBMConfig(**options), CDState()
    runner = None
    if torch_steps:
        runner = CompiledSteps(rbm_step, rbm, x, cfg.batch_size, cfg.cd(), cfg.binarize, state)
    elif cfg.compile:
        runner = rbm_epochs(rbm, x, cfg.cd(), cfg.binarize, cfg.batch_size, state, enabled=True)
    if runner is None:
        runner = lambda g: train_epoch(rbm, x, cfg, g, state)  # noqa: E731 - the plain loop
    return lambda: [runner(g).item() for _ in range(epochs)]


def rbm_sklearn(x: np.ndarray) -> Callable[[], object]:
    from sklearn.neural_network import BernoulliRBM

    def run():
        BernoulliRBM(n_components=100, learning_rate=0.1, batch_size=100, n_iter=1, random_state=0).fit(x)

    return run


class PerSample(torch.utils.data.Dataset):
    """What a tutorial does: one image at a time, converted to a tensor (and transformed) in __getitem__."""

    def __init__(self, images: np.ndarray, transform: Callable[[torch.Tensor], torch.Tensor] = lambda x: x.reshape(-1)) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(torch.tensor(self.images[i], dtype=torch.float32) / 255.0)


def rbm_notebook(images: np.ndarray) -> Callable[[], object]:
    torch.manual_seed(0)
    W = torch.randn(784, 100) * 0.1
    a, b = torch.zeros(784), torch.zeros(100)
    loader = torch.utils.data.DataLoader(PerSample(images), batch_size=100, shuffle=True)
    lr = 0.1

    def epoch():
        nonlocal W, a, b
        for x in loader:
            v0 = torch.bernoulli(x)
            ph0 = torch.sigmoid(v0 @ W + b)
            h0 = torch.bernoulli(ph0)
            v1 = torch.bernoulli(torch.sigmoid(h0 @ W.t() + a))
            ph1 = torch.sigmoid(v1 @ W + b)
            n = x.shape[0]
            W = W + lr * (v0.t() @ ph0 - v1.t() @ ph1) / n
            a = a + lr * (v0 - v1).mean(0)
            b = b + lr * (ph0 - ph1).mean(0)

    return epoch


def matmul_rate(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """Dense float32 matrix-multiply rate in multiply-adds per second."""
    A, B = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return n**3 / statistics.median(timed(lambda: A @ B, repeats, device, warmup=2))


def rbm_epoch_macs(n_images: int, n_visible: int = 784, n_hidden: int = 100) -> float:
    """Multiply-adds of one CD-1 epoch: v0 W, h0 W^T, v1 W and the two outer products v^T p(h)."""
    return 5.0 * n_images * n_visible * n_hidden


def rbm_breakdown(x: torch.Tensor, device: torch.device, **options) -> dict[str, float]:
    """Seconds of one genlab RBM epoch by kind of operator (torch.profiler, self CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    epoch = rbm_genlab(x, device, **options)
    epoch()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        epoch()
    kinds = {"aten::addmm": "matrix products", "aten::mm": "matrix products", "aten::uniform_": "uniform draws",
             **{f"aten::{op}": "counter-stream draws (Threefry)" for op in (
                 "bitwise_xor", "bitwise_or", "bitwise_and", "bitwise_left_shift", "bitwise_right_shift", "__xor__",
                 "__or__", "__and__", "__lshift__", "__rshift__", "__ilshift__", "__irshift__")}}
    out: dict[str, float] = {}
    for event in prof.key_averages():
        kind = kinds.get(event.key, "everything else")
        if "CompiledFxGraph" in event.key:
            kind = "compiled kernels (draws, sigmoids, updates)"
        out[kind] = out.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return out


def rbm_cuda_kernels(x: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """(kernels per minibatch, their summed GPU seconds per epoch) of a compiled RBM epoch, steps launched one
    by one (torch.profiler's CUDA activity)."""
    from torch.profiler import ProfilerActivity, profile

    from genlab.accel.steps import CompiledSteps
    from genlab.algorithms.cd import CDState, rbm_step
    from genlab.models.rbm import RBM
    from genlab.training.rbm import RBMConfig

    g = torch.Generator(device=device).manual_seed(0)
    rbm, config = RBM(784, 100, 0.1, generator=g, device=device), RBMConfig(compile=True)
    runner = CompiledSteps(rbm_step, rbm, x, config.batch_size, config.cd(), config.binarize, CDState(), cuda_graph=False)
    runner(g).item()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        runner(g).item()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy = sum(getattr(e, "device_time", 0.0) or getattr(e, "cuda_time", 0.0) for e in kernels) / 1e6
    return len(kernels) / -(-x.shape[0] // 100), busy


def graph_node_seconds(device: torch.device, nodes: int = 6000) -> float:
    """Seconds per node of a CUDA graph of ``nodes`` one-element additions: the floor of a kernel in a graph."""
    t = torch.zeros(1, device=device)
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        t.add_(1)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(nodes):
            t.add_(1)
    return statistics.median(timed(graph.replay, 5, device, warmup=2)) / nodes


# ----------------------------------------------------------------------------- VAE


def vae_model(device: torch.device):
    from genlab.models.vae import VAE

    return VAE(784, 20, (200, 200), "softplus", generator=torch.Generator().manual_seed(0), device=device)


def vae_genlab(x: torch.Tensor, device: torch.device, epochs: int = 1, **options) -> Callable[[], object]:
    from genlab.training.vae import VAEConfig, fit

    model, g = vae_model(device), torch.Generator(device=device).manual_seed(0)
    return lambda: fit(model, x, VAEConfig(epochs=epochs, **options), g, progress=False)


def vae_dataloader(images: np.ndarray, device: torch.device, bf16: bool = False) -> Callable[[], object]:
    """The same model and loss through a per-sample Dataset and a DataLoader (batch 1024, shuffled)."""
    model = vae_model(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3.24e-4)
    loader = torch.utils.data.DataLoader(PerSample(images), batch_size=1024, shuffle=True)

    def epoch():
        for x in loader:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = model.loss(x.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


# ----------------------------------------------------------------------------- DCGAN


def dcgan_genlab(images64: torch.Tensor, device: torch.device, batch_size: int, **options) -> Callable[[], object]:
    from genlab.models.dcgan import DCGAN
    from genlab.training.dcgan import DCGANConfig, fit

    gan, g = DCGAN(generator=torch.Generator().manual_seed(0), device=device), torch.Generator(device=device).manual_seed(0)
    return lambda: fit(gan, images64, DCGANConfig(epochs=1, batch_size=batch_size, **options), g, progress=False)


def resized_to_64(x: torch.Tensor) -> torch.Tensor:
    """What the PyTorch DCGAN tutorial's transforms do to one image: 64x64, scaled to [-1, 1]."""
    x = torch.nn.functional.interpolate(x[None, None], size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    return x[0] * 2 - 1


def dcgan_plain(images: np.ndarray, device: torch.device, batch_size: int) -> Callable[[], object]:
    """The tutorial's loop on the same networks: one D and one G update per minibatch, BCE on logits."""
    from genlab.models.dcgan import DCGAN

    gan = DCGAN(generator=torch.Generator().manual_seed(0), device=device)
    opt_d = torch.optim.Adam(gan.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gan.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    loader = torch.utils.data.DataLoader(PerSample(images, resized_to_64), batch_size=batch_size, shuffle=True)

    def epoch():
        for real in loader:
            real = real.to(device)
            n = real.shape[0]
            ones, zeros = torch.ones(n, device=device), torch.zeros(n, device=device)
            fake = gan.G(torch.randn(n, 100, 1, 1, device=device))
            loss_d = loss_fn(gan.D(real).view(-1), ones) + loss_fn(gan.D(fake.detach()).view(-1), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = loss_fn(gan.D(fake).view(-1), ones)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()

    return epoch


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="rbm,vae,dcgan,rate", help="comma-separated: rbm, vae, dcgan, rate")
    parser.add_argument("--dcgan-images", type=int, help="training images per DCGAN measurement "
                        "(default: 512 on the CPU, 60,000 elsewhere)")
    parser.add_argument("--dcgan-batch-size", type=int, default=128)
    parser.add_argument("--epochs-per-call", type=int, help="RBM epochs per timed call, reported per epoch "
                        "(default: 1 on the CPU, 10 on CUDA, where an epoch is one graph replay of a few milliseconds)")
    parser.add_argument("--repeat-slow-rounds", action="store_true", help="on the CPU, time a round of a benchmark's "
                        "variants again when a probe just before or after it finds the threads not scaling (a virtual "
                        "machine whose cores come and go), at most 2 x --repeats times; the count is printed")
    parser.add_argument("--cd-k", type=int, default=1, help="the RBM epochs' Gibbs steps (CD-k); above 1 without "
                        "scikit-learn and the notebook loop (CD-1 only), and above 3 without the compiled steps "
                        "(minutes of compiling)")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    device = resolve_device(args.device)
    parts = set(args.only.split(","))
    source = data.resolve("mnist", args.data_dir)
    train = data.read_split(source, "train")
    results: list[Result] = []
    first_epochs: list[str] = []
    rbm_per_call = args.epochs_per_call or (1 if device.type == "cpu" else 10)
    repeated: dict[str, int] = collections.defaultdict(int)  # rounds timed again, by benchmark

    def full_cores() -> bool:
        """False when --repeat-slow-rounds finds that this process's threads do not scale now."""
        threads = torch.get_num_threads()
        return not (args.repeat_slow_rounds and device.type == "cpu" and threads > 1
                    and threads_scale() < 0.8 * threads)

    def measure(cases: list[Case]) -> None:
        """Warm every case up, then time them in turns (each round runs every case once) so that a slow
        phase of the machine slows the cases of a round alike: ratios are taken between neighbours in time."""
        for case in cases:
            start = time.perf_counter()
            case.run()  # the warm-up call; with --compile it includes compiling
            if case.compiles:
                first_epochs.append(f"{case.name}, {case.variant}: first {case.per_call} epoch(s) "
                                    f"{time.perf_counter() - start:.1f} s including compilation")
        seconds: list[list[float]] = [[] for _ in cases]
        done = 0
        while done < args.repeats:
            before = full_cores()
            times = [timed(case.run, 1, device, warmup=0)[0] / case.per_call for case in cases]
            if before and full_cores() or repeated[cases[0].name] >= 2 * args.repeats:
                for t, kept in zip(times, seconds):
                    kept.append(t)
                done += 1
            else:
                repeated[cases[0].name] += 1
        results.extend(Result(c.name, c.variant, t, c.unit, len(train) if c.unit == "s/epoch" else c.work)
                       for c, t in zip(cases, seconds))

    def genlab_cases(name: str, make: Callable[..., Callable[[], object]], inputs: torch.Tensor,
                     variants: dict[str, dict], per_call: int = 1) -> list[Case]:
        return [Case(name, variant, make(inputs, device, per_call, **options), per_call=per_call,
                     compiles=options.get("compile", True)) for variant, options in variants.items()]

    if "rbm" in parts or "rate" in parts:
        x = data.as_float(train.images).to(device)
        # genlab takes the path measured fastest here (its own CD-1 kernel or the torch.compile'd steps); each of
        # the others for comparison
        k = {"cd_k": args.cd_k}
        variants = {"genlab": k, "genlab --no-compile": {"compile": False, **k}}
        if args.cd_k <= 3:
            variants["genlab, torch.compile'd steps"] = {"torch_steps": True, **k}
        name = "RBM epoch" if args.cd_k == 1 else f"RBM epoch, CD-{args.cd_k}"
        cases = genlab_cases(name, rbm_genlab, x, variants, rbm_per_call)
        if "rbm" in parts and device.type == "cpu" and args.cd_k == 1:
            cases += [Case("RBM epoch", "scikit-learn BernoulliRBM", rbm_sklearn(x.numpy())),
                      Case("RBM epoch", "notebook loop (Dataset + DataLoader)", rbm_notebook(train.images.numpy()))]
        measure(cases)
    if "vae" in parts:
        pixels = data.pixel_rows(train.images).to(device)  # uint8, as genlab train vae holds them
        # the VAE has no CUDA graph: one epoch per call measures it
        cases = genlab_cases("VAE epoch", vae_genlab, pixels, {
            "genlab": {}, "genlab --no-compile": {"compile": False},
            "genlab --bf16": {"bf16": True}, "genlab --bf16 --no-compile": {"bf16": True, "compile": False}})
        cases += [Case("VAE epoch", variant, vae_dataloader(train.images.numpy(), device, bf16))
                  for variant, bf16 in (("DataLoader loop (same model)", False), ("DataLoader loop, bf16 autocast", True))]
        measure(cases)
    if "dcgan" in parts:
        n = args.dcgan_images or (512 if device.type == "cpu" else len(train))
        images64 = data.resize(train.images[:n], 64).to(device)
        name = f"DCGAN pass over {n:,} images, batch {args.dcgan_batch_size}"
        measure([Case(name, variant, fn, "s/pass", work=n) for variant, fn in (
            ("genlab", dcgan_genlab(images64, device, args.dcgan_batch_size)),
            ("genlab --bf16", dcgan_genlab(images64, device, args.dcgan_batch_size, bf16=True)),
            ("plain loop (tutorial-style DataLoader)", dcgan_plain(train.images[:n].numpy(), device, args.dcgan_batch_size)))])

    if args.repeat_slow_rounds:
        print("\nRounds timed again because the threads did not scale: "
              + (", ".join(f"{name} {n}" for name, n in repeated.items()) or "none"))
    print(f"\nMachine: {platform.node()} — {describe(device)}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; median of {args.repeats} repeats\n")
    print("| benchmark | variant | median | min - max | unit | images/s | time vs genlab | time vs fastest genlab |")
    print("|---|---|---|---|---|---|---|---|")
    by_name: dict[str, float] = {}
    fastest: dict[str, float] = {}
    for r in results:
        if r.variant == "genlab":
            by_name[r.name] = r.median
        if r.variant.startswith("genlab"):
            fastest[r.name] = min(fastest.get(r.name, float("inf")), r.median)
    for r in results:
        ratio = r.median / by_name[r.name] if r.name in by_name else float("nan")
        best = r.median / fastest[r.name] if r.name in fastest else float("nan")
        per_second = f"{r.work / r.median:,.0f}" if r.work else ""
        print(f"| {r.name} | {r.variant} | {r.median:.3f} | {min(r.seconds):.3f} - {max(r.seconds):.3f} | {r.unit} | "
              f"{per_second} | {ratio:.2f}x | {best:.2f}x |")
    for line in first_epochs:
        print(f"\n{line}", end="")
    print()
    if "rate" in parts and args.cd_k == 1:  # (the dense rate compared with CD-1's products)
        rate = matmul_rate(device)
        genlab_epoch = fastest["RBM epoch"]
        achieved = rbm_epoch_macs(len(train)) / genlab_epoch
        print(f"\nRBM epoch: {rbm_epoch_macs(len(train)) / 1e9:.1f} G multiply-adds (as dense products) in "
              f"{genlab_epoch:.3f} s = {achieved / 1e9:.1f} GMAC/s; dense 2048^3 matmul: {rate / 1e9:.1f} GMAC/s "
              f"({100 * achieved / rate:.0f}% of it)")
        if device.type == "cuda":
            per_step, busy = rbm_cuda_kernels(x, device)
            node = graph_node_seconds(device)
            steps = -(-len(train) // 100)
            print(f"RBM epoch, genlab on CUDA: {per_step:.1f} kernels per minibatch, {busy:.3f} s of kernel "
                  f"time per epoch (launched one by one); one node of a CUDA graph takes at least {1e6 * node:.2f} us, "
                  f"so {steps} minibatches of {per_step:.1f} kernels take at least {steps * per_step * node:.3f} s")
        if device.type == "cpu":
            for variant, options in (("genlab --no-compile", {"compile": False}), ("genlab, torch.compile'd steps",
                                                                                  {"torch_steps": True})):
                parts_s = rbm_breakdown(x, device, **options)
                total = sum(parts_s.values())
                print(f"RBM epoch, {variant}, under torch.profiler: " + ", ".join(
                    f"{kind} {t:.3f} s ({100 * t / total:.0f}%)" for kind, t in sorted(parts_s.items(), key=lambda kv: -kv[1])))
                macs = rbm_epoch_macs(len(train)) / parts_s["matrix products"]
                print(f"  the matrix products alone run at {macs / 1e9:.1f} GMAC/s ({100 * macs / rate:.0f}% of the dense rate)")


if __name__ == "__main__":
    from genlab.errors import GenlabError

    try:
        main()
    except GenlabError as e:  # a bad option or missing data: one line, no traceback
        raise SystemExit(f"bench.py: {e}") from None
