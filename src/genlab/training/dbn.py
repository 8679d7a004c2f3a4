"""Training a DBN greedily (SPEC task 2): RBM 1, then the top RBM on its hidden samples.

RBM 1 is trained as in SPEC 1 (:mod:`genlab.training.rbm`), or taken from a finished RBM run
with ``--rbm``, and frozen. The top RBM is trained with CD-k (k = 2) on hidden samples of
RBM 1, one minibatch at a time by :func:`genlab.algorithms.dbn.greedy_step`.

Under a launcher both layers train data-parallel as an RBM does (:mod:`genlab.training.rbm`): each rank
takes its rows of every global minibatch, with the random numbers one process draws for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import accel, data, distributed
from genlab.algorithms.cd import CD, CDState, start_centred
from genlab.algorithms.dbn import greedy_step
from genlab.config import non_negative, one_of, option, positive
from genlab.errors import ConfigError
from genlab.evaluation.dbn import recon_error
from genlab.evaluation.rbm import recon_error as rbm_recon_error
from genlab.figures.dbn import dbn_figures
from genlab.models.dbn import DBN
from genlab.models.rbm import RBM
from genlab.runs import Run, check_same_data, open_parent, parent_record
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig, check_draws
from genlab.training.session import (
    OnEpoch,
    TrainConfig,
    check_finite,
    end_epoch,
    epoch_bar,
    fast_paths_wanted,
    leaves_nothing_half_made,
    start,
    stopped_when_not_finite,
    warn_if_few_updates,
)

ENOUGH_UPDATES = train_rbm.ENOUGH_UPDATES  # per layer: each is an RBM


@dataclass
class DBNConfig(TrainConfig):
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

    centering: bool = option(False, "train each layer trained here with the centred gradient, as genlab train rbm "
                             "--centering (the top RBM's offsets start at the means of p(h1 | data))")
    compile: bool = option(
        True, "run both layers on the fastest paths this machine has, as genlab train rbm (RBM 1 in genlab's own "
        "CD kernels where they apply, the top RBM in the native C kernel on the CPU and as compiled steps elsewhere; "
        "centred layers on the plain loop); the same "
        "random numbers on every path", identity=False,
        negated="run both layers on the plain PyTorch loop (for reading and debugging): the same random numbers, "
        "other floating-point rounding",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_draws("--rbm-cd-k", CD(k=self.rbm_cd_k), binarize=True)
        check_draws("--cd-k", self.cd(), binarize=False, extra=2)  # greedy_step draws v and h1 first
        if self.centering and self.top_init == "transpose":
            raise ConfigError("--centering: not with --top-init transpose (centring starts the top RBM from its own biases)")

    def cd(self) -> CD:
        """The settings of the top RBM's CD update."""
        return CD(k=self.cd_k, lr=self.lr, centering=self.centering)

    def layer1(self) -> RBMConfig:
        """The config of RBM 1 when it is trained by this run."""
        return RBMConfig(
            dataset=self.dataset, limit=self.limit, seed=self.seed, hidden=self.rbm_hidden, cd_k=self.rbm_cd_k,
            lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, init_std=self.init_std, compile=self.compile,
            centering=self.centering,
        )


def image_size(run: Run) -> int:
    h, w = run.meta["data"]["image_shape"]
    return h * w


def n_pixels(config: TrainConfig, data_dir: str | Path | None) -> int:
    h, w = data.load_split(data.resolve(config.dataset, data_dir), "test").image_shape
    return h * w


def fit_top(
    dbn: DBN, x: torch.Tensor, config: DBNConfig, generator: torch.Generator, progress: bool = True,
    on_epoch: OnEpoch | None = None, first_epoch: int = 1, state: CDState | None = None,
    paths: dict[str, str] | None = None,
) -> list[float]:
    """Train the top RBM on h1 ~ p(h1 | v), v ~ Bernoulli(x), with RBM 1 frozen, for epochs ``first_epoch``
    to ``config.epochs``; returns per-epoch errors. ``state``: the top RBM's CD state (for centring);
    ``paths["top rbm"]``, when given, is set to the path the epochs run on. Minibatch i of an epoch draws
    from the counter stream (key, i) on every path, as an RBM's (:func:`genlab.training.rbm.train_epoch`).

    The error is the top RBM's reconstruction error of its h1 input, per unit.
    ``on_epoch(epoch, error)`` is called after each epoch.
    """
    cd = config.cd()
    state = CDState() if state is None else state
    if cd.centering and not state.offsets:
        state.offsets = start_centred(dbn.top, dbn.p_h1(x))
    fast = accel.dbn_top_epochs(dbn, x, cd, config.batch_size, enabled=fast_paths_wanted(config))
    if paths is not None:
        paths["top rbm"] = accel.path_of(fast)
    errors = []
    bar = epoch_bar(config.epochs, x.shape[0], config.batch_size, "top rbm", progress, compiling=fast is not None,
                    first=first_epoch)
    for epoch in bar:
        if fast is None:
            total = torch.zeros((), device=x.device)
            key, order = accel.epoch_draws(x.shape[0], generator, x.device)  # as the compiled steps draw them
            streams = accel.counter_streams(key, x.device)
            for i, idx in enumerate(bar.steps(order.split(config.batch_size))):
                mine = distributed.share(idx.shape[0])  # this rank's rows of the global minibatch (all in one process)
                random = distributed.draws_of_rows(streams(i), idx.shape[0])
                total += greedy_step(dbn, data.rows(x, idx[mine]), cd, random, state)
            distributed.all_reduce_sum(total, "summing the reconstruction error")
        else:
            total = fast(generator)
        error = total.item() / (x.shape[0] * dbn.n_h1)
        check_finite(dbn, epoch, {"top RBM's reconstruction error": error})
        errors.append(error)
        end_epoch(bar, {"recon_error": f"{error:.4f}"}, on_epoch, epoch, error)
    return errors


@leaves_nothing_half_made
def train(
    config: DBNConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Train a DBN (RBM 1 first unless ``config.rbm`` names a finished RBM run) and write its run directory;
    with ``resume``, continue the interrupted run in ``out`` from its checkpoint (in either layer)."""
    parent = None
    if config.rbm is not None:
        parent, digest = open_parent(config.rbm, "rbm", "--rbm", config.rbm_sha256)
        check_same_data(parent, config.dataset, data_dir, "--rbm")
        rbm_config = parent.config_as(RBMConfig)
        config = config.replace(rbm=str(parent.path.resolve()), rbm_sha256=digest, rbm_hidden=rbm_config.hidden,
                                rbm_cd_k=rbm_config.cd_k)
    elif config.rbm_sha256 is not None:
        raise ConfigError("--rbm-sha256: only meaningful with --rbm")
    if config.top_init == "transpose":
        pixels = image_size(parent) if parent is not None else n_pixels(config, data_dir)
        if config.top_hidden != pixels:
            raise ConfigError(
                f"--top-hidden: expected {pixels} (the number of pixels) with --top-init transpose, got {config.top_hidden}"
            )

    s = start("dbn", config, out, device, data_dir, overwrite,
              shapes=lambda n: DBN.shapes(n, config.rbm_hidden, config.top_hidden), resume=resume)
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)
    generators = {"train": s.generator, "eval": eval_gen}
    in_top_layer = s.resumed is not None and s.resumed.phase == "top"
    warn_if_few_updates("dbn (top RBM)" if parent is not None else "dbn (each layer)", config.epochs, len(s.train),
                        config.batch_size, ENOUGH_UPDATES)

    paths: dict[str, str] = {}  # the path each layer trained here runs on
    if parent is not None:
        rbm1 = train_rbm.load(parent, s.device)
        s.run.update_meta(layer1=parent_record(parent, digest))
    else:
        # the same sequence of draws as 'genlab train rbm' with this config: the same RBM 1
        rbm_config = config.layer1()
        rbm1 = RBM(x.shape[1], rbm_config.hidden, rbm_config.init_std, generator=s.generator, device=s.device)
        state = CDState()
        if s.resumed is not None and not in_top_layer:
            rbm1.load_state_dict(s.resumed.part("rbm1"))
            state = CDState.from_tensors(s.resumed.part("cd"))
            s.resumed.restore_generators(generators)

        def log_layer1(epoch: int, error: float) -> None:
            s.log({"layer": 1, "epoch": epoch, "recon_error": error,
                              "test_recon_error": rbm_recon_error(rbm1, test_x, eval_gen), "time_s": s.elapsed()})
            s.checkpoint("layer 1", epoch, {"rbm1": rbm1.state_dict(), "cd": state.tensors()}, generators,
                         last=epoch == rbm_config.epochs)

        if not in_top_layer:
            with stopped_when_not_finite(s.run):
                train_rbm.fit(rbm1, x, rbm_config, s.generator, progress, log_layer1, state, s.first_epoch("layer 1"),
                              paths)
            s.run.update_meta(layer1={"run": None, "config": rbm_config.to_dict(), "train_time_s": s.elapsed(),
                                      "path": paths["rbm"]})

    dbn = DBN.stack(rbm1, config.top_hidden, config.init_std, config.top_init == "transpose", s.generator)
    top_state = CDState()
    if in_top_layer:
        dbn.load_state_dict(s.resumed.part("dbn"))
        top_state = CDState.from_tensors(s.resumed.part("cd"))
        s.resumed.restore_generators(generators)

    def log_top(epoch: int, error: float) -> None:
        s.log({"layer": 2, "epoch": epoch, "recon_error": error,
                          "test_recon_error": recon_error(dbn, test_x, eval_gen), "time_s": s.elapsed()})
        s.run.save_model(dbn.tensors())
        s.checkpoint("top", epoch, {"dbn": dbn.state_dict(), "cd": top_state.tensors()}, generators)

    with stopped_when_not_finite(s.run):
        fit_top(dbn, x, config, s.generator, progress, log_top, s.first_epoch("top"), top_state, paths)
    s.finish(train_time_s=s.elapsed(), path=paths["top rbm"])
    distributed.rank_0_alone(lambda: dbn_figures(dbn, s.test, s.run.figures, eval_gen))
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> DBN:
    """The trained DBN of a run directory."""
    cfg = run.config_as(DBNConfig)
    tensors = run.load_model(DBN.shapes(image_size(run), cfg.rbm_hidden, cfg.top_hidden))
    return DBN.from_tensors(tensors).to(device)
