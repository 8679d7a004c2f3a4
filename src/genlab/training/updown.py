"""Fine-tuning a DBN with the up-down (wake-sleep) algorithm (SPEC task 3).

The lower weights of a finished DBN run are untied into recognition and generative
weights (:meth:`genlab.models.dbn.UpDownDBN.from_dbn`), and every minibatch is one
up-down step (:func:`genlab.algorithms.dbn.updown_step`: wake, CD-k in the top RBM, sleep).

Under a launcher each rank takes its rows of every global minibatch, with the random numbers one
process draws for them, and the step averages its statistics over every rank's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import accel, data, distributed
from genlab.algorithms.dbn import updown_minibatch
from genlab.config import option, positive
from genlab.errors import ConfigError
from genlab.evaluation.dbn import recon_error
from genlab.figures.dbn import finetune_figures
from genlab.models.dbn import UpDownDBN
from genlab.runs import Run, check_same_data, open_parent, parent_record
from genlab.training import dbn as train_dbn
from genlab.training.dbn import DBNConfig, image_size
from genlab.training.session import (
    OnEpoch,
    TrainConfig,
    check_finite,
    end_epoch,
    epoch_bar,
    leaves_nothing_half_made,
    start,
    stopped_when_not_finite,
    warn_if_few_updates,
)

# Fewer up-down steps than this barely fine-tune: the number of a DBN layer's (up-down's own was not measured)
ENOUGH_UPDATES = train_dbn.ENOUGH_UPDATES



@dataclass
class FinetuneConfig(TrainConfig):
    """SPEC task 3: up-down fine-tuning of a DBN run, lr 0.01, 100 epochs, minibatch 100."""

    dbn: str | None = option(None, "finished DBN run to fine-tune (required)", identity=False)
    dbn_sha256: str | None = option(None, "sha256 of --dbn's model.safetensors: checked when given, recorded when not")
    lr: float = option(0.01, "learning rate of every update", check=positive)
    epochs: int = option(100, "passes over the training set", check=positive)
    batch_size: int = option(100, "minibatch size", check=positive)
    cd_k: int = option(2, "Gibbs steps of the top RBM's CD-k in each up-down step", check=positive)
    sample_predictions: bool = option(
        True, "v_new, v_down and s1_new are samples of the predicted probabilities (SPEC 3)",
        negated="use the predicted probabilities instead of samples of them for v_new, v_down and s1_new "
        "(as in the appendix of Hinton, Osindero & Teh 2006)",
    )


def fit(
    model: UpDownDBN, x: torch.Tensor, config: FinetuneConfig, generator: torch.Generator, progress: bool = True,
    on_epoch: OnEpoch | None = None, first_epoch: int = 1,
) -> list[float]:
    """Fine-tune ``model`` on the rows of ``x`` (pixel probabilities) for epochs ``first_epoch`` to
    ``config.epochs``; returns per-epoch wake reconstruction errors. Minibatch i of an epoch draws from the
    counter stream (key, i), as every family's (:func:`genlab.training.rbm.train_epoch`)."""
    errors = []
    bar = epoch_bar(config.epochs, x.shape[0], config.batch_size, "up-down", progress, first=first_epoch)
    for epoch in bar:
        total = torch.zeros((), device=x.device)
        key, order = accel.epoch_draws(x.shape[0], generator, x.device)
        streams = accel.counter_streams(key, x.device)
        for i, idx in enumerate(bar.steps(order.split(config.batch_size))):
            mine = distributed.share(idx.shape[0])  # this rank's rows of the global minibatch (all in one process)
            random = distributed.draws_of_rows(streams(i), idx.shape[0])
            total += updown_minibatch(model, data.rows(x, idx[mine]), config.lr, config.cd_k, random,
                                      config.sample_predictions)
        distributed.all_reduce_sum(total, "summing the reconstruction error")
        error = total.item() / x.numel()
        check_finite(model, epoch, {"wake reconstruction error": error})
        errors.append(error)
        end_epoch(bar, {"recon_error": f"{error:.4f}"}, on_epoch, epoch, error)
    return errors


@leaves_nothing_half_made
def train(
    config: FinetuneConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Fine-tune the DBN of run ``config.dbn`` with the up-down algorithm and write the new run directory;
    with ``resume``, continue the interrupted run in ``out`` from its checkpoint."""
    if config.dbn is None:
        raise ConfigError("--dbn: required, the run directory of a trained DBN ('genlab train dbn')")
    parent, digest = open_parent(config.dbn, "dbn", "--dbn", config.dbn_sha256)
    check_same_data(parent, config.dataset, data_dir, "--dbn")
    config = config.replace(dbn=str(parent.path.resolve()), dbn_sha256=digest)
    s = start("dbn-finetune", config, out, device, data_dir, overwrite, resume=resume)
    s.run.update_meta(source=parent_record(parent, digest))
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)
    generators = {"train": s.generator, "eval": eval_gen}
    model = UpDownDBN.from_dbn(train_dbn.load(parent, s.device))
    warn_if_few_updates("dbn-finetune", config.epochs, len(s.train), config.batch_size, ENOUGH_UPDATES,
                        outcome="the fine-tuning will hardly change the DBN")
    if s.resumed is not None:
        model.load_state_dict(s.resumed.part("model"))
        s.resumed.restore_generators(generators)

    def log_epoch(epoch: int, error: float) -> None:
        s.log({"epoch": epoch, "recon_error": error,
                          "test_recon_error": recon_error(model, test_x, eval_gen), "time_s": s.elapsed()})
        s.run.save_model(model.tensors())
        s.checkpoint("up-down", epoch, {"model": model.state_dict()}, generators)

    with stopped_when_not_finite(s.run):
        fit(model, x, config, s.generator, progress, log_epoch, s.first_epoch("up-down"))
    s.finish(train_time_s=s.elapsed())
    distributed.rank_0_alone(lambda: finetune_figures(model, s.test, s.run.figures, eval_gen))
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> UpDownDBN:
    """The fine-tuned DBN of a run directory."""
    dbn_config = run.config_as(DBNConfig, run.meta.get("source", {}).get("config"), "source.config")
    shapes = UpDownDBN.shapes(image_size(run), dbn_config.rbm_hidden, dbn_config.top_hidden)
    return UpDownDBN.from_tensors(run.load_model(shapes)).to(device)
