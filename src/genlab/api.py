"""genlab's Python API: train a model into a run directory, load its model, draw samples, evaluate it.

The command line mirrors it, one function a command::

    genlab train rbm --out runs/rbm --hidden 100 --cd-k 1     genlab.train("rbm", "runs/rbm", hidden=100, cd_k=1)
    genlab eval runs/rbm --ais-runs 10                         genlab.evaluate("runs/rbm", ais_runs=10)
    genlab sample runs/rbm --n 16 --out s.png                  genlab.sample("runs/rbm", 16)

Keyword options are the command's options with ``_`` for ``-``; a flag ``--no-NAME`` is
``NAME=False``. :func:`train` returns the :class:`~genlab.runs.Run` it wrote, as the command
does: the run directory is what lasts, and :func:`load` gives its model. Every function
takes a run as a :class:`~genlab.runs.Run` or as the path of its directory. The four
functions are also ``genlab.train``, ``genlab.load``, ``genlab.evaluate`` and ``genlab.sample``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from genlab import distributed
from genlab.config import Config, option, positive, seed_range
from genlab.data import memory
from genlab.devices import resolve_device
from genlab.errors import ConfigError
from genlab.evaluation.config import EvalConfig
from genlab.families import FAMILIES, Family, family_of, sample_images
from genlab.families import evaluate as evaluate_run
from genlab.runs import LOG, Run

__all__ = ["train", "load", "evaluate", "sample", "compare"]

C = TypeVar("C", bound=Config)

RunLike = Run | str | os.PathLike  # a run, or the path of its directory


def train(
    family: str,
    out: str | os.PathLike | None = None,
    *,
    data: Any = None,
    test_data: Any = None,
    image_shape: tuple[int, int] | None = None,
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
    **options: Any,
) -> Run:
    """Train a model and write its run directory, as ``genlab train FAMILY --out OUT``.

    Args:
        family: The model family: ``rbm``, ``dbn``, ``dbn-finetune``, ``vae`` or ``dcgan``.
        out: The run directory to create: new or empty, or a run to replace with ``overwrite``. None: a
            new temporary directory (its path is printed, and is the returned run's ``path``).
        data: Train on these images instead of a data set's files: a tensor or NumPy array of images
            ([N, H, W], [N, 1, H, W], or [N, H*W] with ``image_shape``), uint8 pixels 0-255 or floats in
            [0, 1]; a pair (images, labels); or a ``torch.utils.data.Dataset`` of images or (image, label)
            pairs. Labels are needed only by ``evaluate`` (the linear probe and the sample-quality
            classifier). The images are kept as a data set of IDX files in genlab's cache, which the
            run records with their checksums (docs/api.md).
        test_data: Held-out images for ``data``, in the same forms (with labels when ``data`` has them).
            Without them training's test numbers and figures use the training images, and ``evaluate``
            refuses the run.
        image_shape: (height, width) of ``data`` and ``test_data`` given as rows of pixels.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        data_dir: The directory of the data set's four IDX files (default: ``$GENLAB_DATA_DIR``,
            then ``~/.cache/genlab/DATASET``).
        progress: Show a progress bar over the epochs.
        overwrite: Replace a run already in ``out``.
        resume: Continue the interrupted run in ``out`` from its last checkpoint (the same options).
        **options: The family's options (``genlab train FAMILY --help``), e.g. ``hidden=100,
            cd_k=1`` for an RBM; the others keep their defaults, the SPEC reference run. The run a
            DBN stands on (``rbm=``) or that fine-tuning starts from (``dbn=``) may be a ``Run``.

    Under a launcher (``torchrun ... -m genlab train``, or a script that torchrun starts), every process
    calls ``train`` with the same arguments: they join the launcher's process group (NCCL on CUDA, each
    on ``cuda:LOCAL_RANK``; gloo on the CPU), unless the script has joined it, and train data-parallel,
    ``batch_size`` being the global minibatch; rank 0 alone writes ``out`` and shows progress. The group
    stays for further calls; ``genlab.distributed.teardown()`` leaves it (docs/distributed.md).

    Returns:
        The finished run: ``run.path``, ``run.config``, ``run.log`` (one dict per epoch);
        ``load(run)`` gives its model. (Under a launcher every rank returns when rank 0 has written it.)

    Raises:
        ConfigError: An unknown family or option, an invalid value, or images not in one of the forms
            above; the message names it.
        GenlabError: Missing or damaged data, or an ``out`` that cannot be written.
    """
    spec = family_named(family)
    keywords = ("data", "test_data", "image_shape", "device", "data_dir", "progress", "overwrite", "resume")
    if data is not None:
        options = {**options, "dataset": in_memory(data, test_data, image_shape, options, data_dir)}
    elif test_data is not None or image_shape is not None:
        raise ConfigError(f"genlab.train: {'test_data' if test_data is not None else 'image_shape'} is for data=; "
                          "give the training images as data")
    config = config_of(spec.config, options, f"genlab.train({family!r})", keywords)
    if out is not None:
        _, device = distributed.setup(resolve_device(device))  # joins the launcher's process group, if any
        run = spec.train(config, out, device=device, data_dir=data_dir, progress=progress, overwrite=overwrite,
                         resume=resume)
        distributed.barrier("finishing the run")  # every rank returns the run that rank 0 has written
        return run
    if distributed.launched():
        raise ConfigError("genlab.train under torchrun: give the run directory, out= (every rank must name the same one)")
    if resume:
        raise ConfigError("genlab.train: resume needs the run directory to continue, out=")
    temporary = Path(tempfile.mkdtemp(prefix=f"genlab-{family}-"))
    try:
        run = spec.train(config, temporary, device=device, data_dir=data_dir, progress=progress)
    except BaseException:
        if not (temporary / LOG).exists():  # as when out is given: nothing is left of a run that never trained
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    print(f"genlab.train: run written to {run.path}", file=sys.stderr)
    return run


def in_memory(data: Any, test_data: Any, image_shape: tuple[int, int] | None, options: dict[str, Any],
              data_dir: str | os.PathLike | None) -> str:
    """The data set of images given to :func:`train` in memory, as its ``dataset`` option: the directory of
    IDX files that :func:`genlab.data.memory.memory_source` keeps them in."""
    for name, given in (("dataset", "dataset" in options), ("data_dir", data_dir is not None)):
        if given:
            raise ConfigError(f"genlab.train: data= and {name}=: give the images in memory or a data set, not both")
    train = memory.as_split(data, "data", image_shape)
    test = None if test_data is None else memory.as_split(test_data, "test_data", image_shape)
    if test is None:
        print("genlab.train: no test_data: training's test numbers and figures use the training images, "
              "and genlab eval will refuse the run", file=sys.stderr)
    return str(memory.memory_source(train, test).directory)


def load(run: RunLike, device: str | torch.device = "cpu") -> nn.Module:
    """The trained model of a run directory, in evaluation mode.

    Args:
        run: A run, or the path of its directory.
        device: Where the model's tensors go: ``cpu``, ``auto``, ``cuda``, ``cuda:N`` or ``mps``.

    Returns:
        The run's model, a ``torch.nn.Module`` of :mod:`genlab.models`: ``RBM``, ``DBN``,
        ``UpDownDBN``, ``VAE`` or ``DCGAN``. ``model(x)`` is its ``forward`` (docs/api.md),
        ``model.sample(n, generator=None)`` draws ``n`` images as rows of pixels, ``model.save(path)``
        writes it as a new run directory (of its options, data set and training time).

    Raises:
        GenlabError: ``run`` is not a run directory, or its files are damaged.
    """
    run = opened(run)
    model = family_of(run).load(run, resolve_device(device)).eval()
    model.record = {**run.meta, "run": str(run.path.resolve())}  # what model.save(path) keeps of the run
    return model


def evaluate(
    run: RunLike,
    *,
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Measure a run, as ``genlab eval RUN``: writes ``eval.json`` in the run directory.

    Args:
        run: A run, or the path of its directory.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        data_dir: The directory of the data set's four IDX files (default: where the run found them).
        progress: Show progress bars.
        **options: The options of ``genlab eval``: ``seed``, ``test_limit``, ``ais_runs``,
            ``ais_betas``, ``iwae_k`` and ``samples`` (0 skips the sample-quality metrics).

    Under ``torchrun`` (``torchrun --nproc_per_node=W -m genlab eval RUN``) it joins the launcher's process
    group; the W processes share the AIS runs, test images and samples, and rank 0 writes ``eval.json``.

    Returns:
        The numbers of ``eval.json``: for an RBM ``log_z``, ``test_loglik``, ``recon_error``,
        ``probe_accuracy`` ...; each family's are listed in its page of docs/.

    Raises:
        ConfigError: An unknown option or an invalid value; the message names it.
        GenlabError: ``run`` is not a run directory, or its files or data are damaged.
    """
    config = config_of(EvalConfig, options, "genlab.evaluate", ("device", "data_dir", "progress"))
    run = opened(run)
    _, device = distributed.setup(resolve_device(device))  # under torchrun: its process group and this rank's device
    return evaluate_run(run, config, device, data_dir, progress)


@dataclass
class SampleConfig(Config):
    """The options of :func:`sample`, checked as every option is."""

    n: int = option(100, "number of samples", check=positive)
    seed: int = option(0, "random seed", check=seed_range)


def sample(run: RunLike, n: int, seed: int = 0, device: str | torch.device = "cpu",
           unfinished: bool = False) -> torch.Tensor:
    """New images from a run's model, as ``genlab sample RUN --n N``.

    Args:
        run: A run, or the path of its directory.
        n: The number of images.
        seed: The seed of the sampler's random stream: the same seed, the same images.
        device: Where to draw them: ``cpu``, ``auto``, ``cuda``, ``cuda:N`` or ``mps``.
        unfinished: Allow a run whose training has not finished (its last saved epoch's model).

    Returns:
        The images, a float tensor ``[n, H, W]`` of pixel values in [0, 1] on the CPU
        (28x28 for MNIST; 64x64 for a DCGAN).

    Raises:
        ConfigError: ``n`` or ``seed`` is invalid, or ``n`` images would not fit in memory.
        GenlabError: ``run`` is not a run directory, or its files are damaged.
    """
    SampleConfig(n=n, seed=seed)
    return sample_images(opened(run), n, seed, resolve_device(device), unfinished)


def family_named(name: str) -> Family:
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model family {name!r} (one of {', '.join(FAMILIES)})") from None


def config_of(config_class: type[C], options: dict[str, Any], where: str, keywords: tuple[str, ...]) -> C:
    """``config_class`` of keyword options. An unknown option is an error that names it and lists
    the options there are: the fields of ``config_class``, then ``keywords``."""
    fields = [f.name for f in dataclasses.fields(config_class)]  # type: ignore[arg-type]
    unknown = [name for name in options if name not in fields]
    if unknown:
        raise ConfigError(f"{where}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                          f"(options: {', '.join([*fields, *keywords])})")
    return config_class(**{name: as_option(value) for name, value in options.items()})


def as_option(value: Any) -> Any:
    """A run as the path of its directory, and any path as a string, as options hold them."""
    if isinstance(value, Run):
        return str(value.path)
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def opened(run: RunLike) -> Run:
    return run if isinstance(run, Run) else Run.open(os.fspath(run))


def compare(runs: list[RunLike]) -> list[dict[str, Any]]:
    """Runs side by side, as ``genlab compare RUN...``: one dict per run, with the same keys for every run.

    Args:
        runs: Runs, or the paths of their directories.

    Returns:
        For each run: ``run`` (its directory), ``family``, the training options whose values are not the
        same in every run, the evaluation options that differ (``eval.NAME``), and the numbers of
        eval.json that any of the runs has (``test_loglik``, ``recon_error``, ``frechet_classifier_distance`` ...
        :data:`genlab.comparison.NUMBERS`); None where a run lacks one (e.g. no eval.json yet).

    Raises:
        GenlabError: A path is not a run directory, or its files are damaged.
    """
    from genlab.comparison import compare as compare_runs  # the module of the command's table and CSV

    return compare_runs([opened(run) for run in runs])
