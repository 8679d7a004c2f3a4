"""Training DBNs: greedy stacking (SPEC task 2) and up-down fine-tuning (SPEC task 3).

Greedy stacking (``genlab train dbn``): RBM 1 is trained as in SPEC 1, or taken from a
finished RBM run with ``--rbm``, and frozen. The top RBM is trained with CD-k (k = 2)
on hidden samples of RBM 1: for each minibatch a fresh binary image v ~ Bernoulli(pixels)
and h1 ~ p(h1 | v), the same update as ``genlab.train.rbm.cd_step``.

Up-down fine-tuning (``genlab train dbn-finetune``, Hinton, Osindero & Teh 2006,
appendix), per minibatch of N binary images v. Every quantity is computed from the
parameters as they are at the start of the minibatch, then all updates are applied,
each averaged over the minibatch (<.> below)::

    wake   s1 ~ sigma(v R1 + b_up)                         recognition (up) pass
           v_new ~ sigma(s1 W1'^T + a_down)                 what the generative weights predict
           dW1' = lr <(v - v_new)^T s1>,  da_down = lr <v - v_new>
    top    CD-k of the top RBM starting at h1 = s1 (k = 2), the rule of SPEC 1 with
           p(h2 | h1) in the statistics; its chain ends at the h1 state s1_down
           dW2 = lr (<s1^T p(h2|s1)> - <s1_down^T p(h2|s1_down)>)
           d top_v_bias = lr <s1 - s1_down>,  d h2_bias = lr <p(h2|s1) - p(h2|s1_down)>
    sleep  v_down ~ sigma(s1_down W1'^T + a_down)           generative (down) pass
           s1_new ~ sigma(v_down R1 + b_up)                 what the recognition weights predict
           dR1 = lr <v_down^T (s1_down - s1_new)>,  db_up = lr <s1_down - s1_new>

``v_new``, ``v_down`` and ``s1_new`` are samples as SPEC 3 says; with
``--no-sample-predictions`` they are the probabilities themselves, as in the
appendix's code (the updates have the same expectation, with less noise). The appendix
also uses sampled top states in the top RBM's statistics; p(h2 | h1) has the same
expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data
from genlab.config import non_negative, one_of, option, positive
from genlab.errors import ConfigError, GenlabError
from genlab.models.dbn import DBN, BeliefNet, UpDownDBN
from genlab.models.rbm import RBM
from genlab.rng import RandomSource, bernoulli
from genlab.runs import CONFIG, MODEL, Run, file_sha256
from genlab.train import common
from genlab.train import rbm as train_rbm
from genlab.train.rbm import RBMConfig, cd_step, check_compiled_cd_k, recon_shown


@dataclass
class DBNConfig(common.TrainConfig):
    """SPEC task 2 by default: RBM 1 as in SPEC 1, a top RBM of 100 hidden units with CD-2."""

    rbm: str | None = option(
        None, "finished RBM run to stack on (RBM 1, frozen); without it RBM 1 is trained first, with "
        "--rbm-hidden, --rbm-cd-k and the options shared by both layers", identity=False,
    )
    rbm_sha256: str | None = option(None, "sha256 of --rbm's model.safetensors: checked when given, recorded when not")
    rbm_hidden: int = option(100, "hidden units of RBM 1 when trained here (with --rbm: recorded from it)", check=positive)
    rbm_cd_k: int = option(1, "CD-k of RBM 1 when trained here (with --rbm: recorded from it)", check=positive)
    top_hidden: int = option(100, "hidden units of the top RBM (h2)", check=positive)
    top_init: str = option(
        "random", "initial top RBM: random (W2 ~ N(0, init_std^2)) or transpose (SPEC 2.4: W2 = W1^T and "
        "h2 bias = RBM 1's visible bias; needs --top-hidden equal to the number of pixels)",
        check=one_of("random", "transpose"),
    )
    cd_k: int = option(2, "Gibbs steps per update of the top RBM (CD-k)", check=positive)
    lr: float = option(0.1, "learning rate (each layer)", check=positive)
    epochs: int = option(100, "passes over the training set (each layer)", check=positive)
    batch_size: int = option(100, "minibatch size (each layer)", check=positive)
    init_std: float = option(0.1, "standard deviation of the initial weights (each layer)", check=non_negative)

    compile: bool = option(
        False, "compile each minibatch step of both layers into fused kernels (as genlab train rbm --compile)",
        identity="unless-default",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compile:
            check_compiled_cd_k("--rbm-cd-k", self.rbm_cd_k)
            check_compiled_cd_k("--cd-k", self.cd_k)

    def layer1(self) -> RBMConfig:
        """The config of RBM 1 when it is trained by this run."""
        return RBMConfig(
            dataset=self.dataset, limit=self.limit, seed=self.seed, hidden=self.rbm_hidden, cd_k=self.rbm_cd_k,
            lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, init_std=self.init_std, compile=self.compile,
        )


@dataclass
class FinetuneConfig(common.TrainConfig):
    """SPEC task 3: up-down fine-tuning of a DBN run, lr 0.01, 100 epochs, minibatch 100."""

    dbn: str | None = option(None, "finished DBN run to fine-tune (required)", identity=False)
    dbn_sha256: str | None = option(None, "sha256 of --dbn's model.safetensors: checked when given, recorded when not")
    lr: float = option(0.01, "learning rate of every update", check=positive)
    epochs: int = option(100, "passes over the training set", check=positive)
    batch_size: int = option(100, "minibatch size", check=positive)
    cd_k: int = option(2, "Gibbs steps of the top RBM's CD-k in each up-down step", check=positive)
    sample_predictions: bool = option(
        True, "use the predicted probabilities instead of samples of them for v_new, v_down and s1_new "
        "(as in the appendix of Hinton, Osindero & Teh 2006)"
    )


# ----------------------------------------------------------------------------- source runs


def model_sha256(run: Run) -> str:
    return file_sha256(run.path / MODEL)


def open_source(path: str, family: str, flag: str, expected_sha256: str | None) -> tuple[Run, str]:
    """A finished run of ``family`` given by option ``flag``, and the sha256 of its model.

    The checksum makes a run that depends on another self-describing: it is recorded
    in the config (so the lab's config hash changes when the source does) and checked
    when given.
    """
    try:
        run = Run.open(path)
    except GenlabError as e:
        raise ConfigError(f"{flag}: {e}") from None
    if run.family != family:
        raise ConfigError(f"{flag} {path}: a {run.family} run, expected a {family} run")
    if "train_time_s" not in run.meta or not (run.path / MODEL).is_file():
        raise ConfigError(f"{flag} {path}: the run has not finished training (no train_time_s in {CONFIG})")
    digest = model_sha256(run)
    if expected_sha256 is not None and expected_sha256 != digest:
        raise ConfigError(
            f"{flag} {path}: its model has changed (sha256 {digest[:12]}..., expected {expected_sha256[:12]}...)"
        )
    return run, digest


def check_same_data(source: Run, config: common.TrainConfig, data_dir: str | Path | None, flag: str) -> None:
    """The source run must have been trained on the same data set (same file checksums)."""
    here = data.checksums(data.resolve(config.dataset, data_dir))
    there = source.meta.get("data", {})
    if there.get("sha256") != here:
        raise ConfigError(
            f"{flag} {source.path}: trained on {there.get('dataset', 'another data set')!r}, not on "
            f"--dataset {config.dataset!r} (pass the same --dataset)"
        )


def source_record(run: Run, digest: str) -> dict[str, Any]:
    """What a run records of the run it builds on."""
    record = {"run": str(run.path.resolve()), "family": run.family, "sha256": digest, "config": run.config,
              "train_time_s": run.meta.get("train_time_s")}
    for key in ("layer1", "source"):
        if key in run.meta:
            record[key] = run.meta[key]
    return record


# ----------------------------------------------------------------------------- shared pieces


def recon_error(model: BeliefNet, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """Mean squared error per pixel between x and p(v = 1 | h1) after v -> h1 -> h2 -> h1 -> v."""
    total = 0.0
    for v in common.chunks(x, chunk):
        _, p = model.reconstruct(v, 0, generator)
        total += (v - p).square().sum().item()
    return total / x.numel()


@torch.no_grad()
def sample_chains(
    model: BeliefNet, n: int, generator: torch.Generator | None = None, steps: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """n chains from uniformly random h1 states, ``steps`` Gibbs steps in the top RBM, then
    the down pass. Returns (top states h2, p(v = 1 | h1))."""
    h1 = bernoulli(torch.full((n, model.n_h1), 0.5, device=model.top.W.device, dtype=model.top.W.dtype), generator)
    _, h2 = model.top.sample_h(h1, generator)
    return model.generate(h2, steps, generator)


def sample(model: BeliefNet, n: int, generator: torch.Generator | None = None, steps: int = 1000) -> torch.Tensor:
    """n images p(v = 1 | h1) from :func:`sample_chains`."""
    return sample_chains(model, n, generator, steps)[1]


def image_size(run: Run) -> int:
    h, w = run.meta["data"]["image_shape"]
    return h * w


def n_pixels(config: common.TrainConfig, data_dir: str | Path | None) -> int:
    h, w = data.load_split(data.resolve(config.dataset, data_dir), "test").image_shape
    return h * w


# ----------------------------------------------------------------------------- greedy DBN


def fit_top(
    dbn: DBN, x: torch.Tensor, config: DBNConfig, generator: torch.Generator, progress: bool = True,
    on_epoch: common.OnEpoch | None = None,
) -> list[float]:
    """Train the top RBM on h1 ~ p(h1 | v), v ~ Bernoulli(x), with RBM 1 frozen; returns per-epoch errors.

    The error is the top RBM's reconstruction error of its h1 input, per unit.
    ``on_epoch(epoch, error)`` is called after each epoch.
    """
    epochs = common.MinibatchEpochs(top_step, config.compile)

    def one_epoch(_: int) -> float:
        return epochs(dbn, x, config.batch_size, generator, config).item() / (x.shape[0] * dbn.n_h1)

    return common.run_epochs(config.epochs, "top rbm", one_epoch, recon_shown, progress, on_epoch, compiling=config.compile)


def top_step(dbn: DBN, probs: torch.Tensor, config: DBNConfig, source: RandomSource) -> torch.Tensor:
    """One CD update of the top RBM on h1 ~ p(h1 | v), v ~ Bernoulli(probs); returns its summed squared
    reconstruction error of h1."""
    v = bernoulli(probs, source)
    h1 = bernoulli(dbn.p_h1(v), source)
    recon = cd_step(dbn.top, h1, config.cd_k, config.lr, source)
    return (h1 - recon).square().sum()


def train(
    config: DBNConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Run:
    """Train a DBN (RBM 1 first unless ``config.rbm`` names a finished RBM run) and write its run directory."""
    from genlab.lab.dbn import dbn_figures

    source = None
    if config.rbm is not None:
        source, digest = open_source(config.rbm, "rbm", "--rbm", config.rbm_sha256)
        check_same_data(source, config, data_dir, "--rbm")
        rbm_config = RBMConfig.from_dict(source.config)
        config = config.replace(rbm=str(source.path.resolve()), rbm_sha256=digest, rbm_hidden=rbm_config.hidden,
                                rbm_cd_k=rbm_config.cd_k)
    elif config.rbm_sha256 is not None:
        raise ConfigError("--rbm-sha256: only meaningful with --rbm")
    if config.top_init == "transpose":
        pixels = image_size(source) if source is not None else n_pixels(config, data_dir)
        if config.top_hidden != pixels:
            raise ConfigError(
                f"--top-hidden: expected {pixels} (the number of pixels) with --top-init transpose, got {config.top_hidden}"
            )

    s = common.start("dbn", config, out, device, data_dir, overwrite)
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)

    if source is not None:
        rbm1 = train_rbm.load(source, s.device)
        s.run.update_meta(layer1=source_record(source, digest))
    else:
        # the same sequence of draws as 'genlab train rbm' with this config: the same RBM 1
        rbm_config = config.layer1()
        rbm1 = RBM(x.shape[1], rbm_config.hidden, rbm_config.init_std, generator=s.generator, device=s.device)

        def log_layer1(epoch: int, error: float) -> None:
            s.run.append_log({"layer": 1, "epoch": epoch, "recon_error": error,
                              "test_recon_error": train_rbm.recon_error(rbm1, test_x, eval_gen), "time_s": s.elapsed()})

        train_rbm.fit(rbm1, x, rbm_config, s.generator, progress, log_layer1)
        s.run.update_meta(layer1={"run": None, "config": rbm_config.to_dict(), "train_time_s": s.elapsed()})

    dbn = DBN.stack(rbm1, config.top_hidden, config.init_std, config.top_init == "transpose", s.generator)

    def log_top(epoch: int, error: float) -> None:
        s.run.append_log({"layer": 2, "epoch": epoch, "recon_error": error,
                          "test_recon_error": recon_error(dbn, test_x, eval_gen), "time_s": s.elapsed()})
        s.run.save_model(dbn.tensors())

    fit_top(dbn, x, config, s.generator, progress, log_top)
    s.run.update_meta(train_time_s=s.elapsed())
    dbn_figures(dbn, s.test, s.run.figures, eval_gen)
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> DBN:
    """The trained DBN of a run directory."""
    cfg = DBNConfig.from_dict(run.config)
    tensors = run.load_model(DBN.shapes(image_size(run), cfg.rbm_hidden, cfg.top_hidden))
    return DBN.from_tensors(tensors).to(device)


# ----------------------------------------------------------------------------- up-down fine-tuning


@torch.no_grad()
def updown_step(
    model: UpDownDBN,
    v: torch.Tensor,
    lr: float,
    k: int = 2,
    generator: torch.Generator | None = None,
    sample_predictions: bool = True,
) -> torch.Tensor:
    """One up-down update of ``model`` in place on the binary minibatch ``v`` (module docstring).

    Returns p(v = 1 | s1) of the wake pass (the caller measures the reconstruction error with it).
    """
    def predict(p: torch.Tensor) -> torch.Tensor:
        return bernoulli(p, generator) if sample_predictions else p

    n = v.shape[0]
    top = model.top
    # wake: recognise, and see what the generative weights predict of the data
    s1 = bernoulli(model.p_h1(v), generator)
    p_wake = model.p_v(s1)
    v_new = predict(p_wake)
    # top RBM: CD-k from h1 = s1
    ph2_0 = top.p_h(s1)
    h2 = bernoulli(ph2_0, generator)
    for step in range(k):
        s1_down = bernoulli(top.p_v(h2), generator)
        ph2 = top.p_h(s1_down)
        if step < k - 1:
            h2 = bernoulli(ph2, generator)
    # sleep: generate from the top RBM's h1 state, and see what the recognition weights predict of it
    v_down = predict(model.p_v(s1_down))
    s1_new = predict(model.p_h1(v_down))

    updates = {
        "W1_down": (v - v_new).t() @ s1 / n,
        "v_bias_down": (v - v_new).mean(0),
        "W2": (s1.t() @ ph2_0 - s1_down.t() @ ph2) / n,
        "top_v_bias": (s1 - s1_down).mean(0),
        "h2_bias": (ph2_0 - ph2).mean(0),
        "R1": v_down.t() @ (s1_down - s1_new) / n,
        "h1_bias_up": (s1_down - s1_new).mean(0),
    }
    params = model.tensors()
    for name, update in updates.items():
        params[name].add_(update, alpha=lr)
    return p_wake


def fit_updown(
    model: UpDownDBN, x: torch.Tensor, config: FinetuneConfig, generator: torch.Generator, progress: bool = True,
    on_epoch: common.OnEpoch | None = None,
) -> list[float]:
    """Fine-tune ``model`` on the rows of ``x`` (pixel probabilities); returns per-epoch wake reconstruction errors."""
    epochs = common.MinibatchEpochs(updown_minibatch, compile=False)

    def one_epoch(_: int) -> float:
        return epochs(model, x, config.batch_size, generator, config).item() / x.numel()

    return common.run_epochs(config.epochs, "up-down", one_epoch, recon_shown, progress, on_epoch)


def updown_minibatch(model: UpDownDBN, probs: torch.Tensor, config: FinetuneConfig,
                     generator: torch.Generator) -> torch.Tensor:
    """One up-down update on v ~ Bernoulli(probs); returns its summed squared wake reconstruction error."""
    p_wake = updown_step(model, bernoulli(probs, generator), config.lr, config.cd_k, generator, config.sample_predictions)
    return (probs - p_wake).square_().sum()


def train_finetune(
    config: FinetuneConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Run:
    """Fine-tune the DBN of run ``config.dbn`` with the up-down algorithm and write the new run directory."""
    from genlab.lab.dbn import finetune_figures

    if config.dbn is None:
        raise ConfigError("--dbn: required, the run directory of a trained DBN ('genlab train dbn')")
    source, digest = open_source(config.dbn, "dbn", "--dbn", config.dbn_sha256)
    check_same_data(source, config, data_dir, "--dbn")
    config = config.replace(dbn=str(source.path.resolve()), dbn_sha256=digest)
    s = common.start("dbn-finetune", config, out, device, data_dir, overwrite)
    s.run.update_meta(source=source_record(source, digest))
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)
    model = UpDownDBN.from_dbn(load(source, s.device))

    def log_epoch(epoch: int, error: float) -> None:
        s.run.append_log({"epoch": epoch, "recon_error": error,
                          "test_recon_error": recon_error(model, test_x, eval_gen), "time_s": s.elapsed()})
        s.run.save_model(model.tensors())

    fit_updown(model, x, config, s.generator, progress, log_epoch)
    s.run.update_meta(train_time_s=s.elapsed())
    finetune_figures(model, s.test, s.run.figures, eval_gen)
    return s.run


def load_finetuned(run: Run, device: str | torch.device = "cpu") -> UpDownDBN:
    """The fine-tuned DBN of a run directory."""
    dbn_config = DBNConfig.from_dict(run.meta["source"]["config"])
    shapes = UpDownDBN.shapes(image_size(run), dbn_config.rbm_hidden, dbn_config.top_hidden)
    return UpDownDBN.from_tensors(run.load_model(shapes)).to(device)
