"""genlab: classic deep generative models (RBM, DBN, up-down DBN, VAE, DCGAN) on MNIST-like images.

The Python API mirrors the command line (docs/api.md, docs/tutorial.md)::

    import genlab

    run = genlab.train("rbm", "runs/rbm", hidden=100, epochs=5)   # genlab train rbm --out runs/rbm ...
    model = genlab.load(run)                                      # the trained nn.Module
    images = genlab.sample(run, 16)                               # [16, 28, 28] in [0, 1]
    results = genlab.evaluate(run, ais_runs=10, samples=0)        # genlab eval runs/rbm ...
    run = genlab.train("rbm", data=images, epochs=5)              # images in memory, a temporary run directory
    model.save("runs/copy")                                       # any model as a run directory

They are imported on first use, so that ``import genlab`` (and ``genlab --help``) loads no
PyTorch. The subpackages that do the work have other names (``genlab.training``,
``genlab.evaluation``, ...): one name, one meaning.
"""

import importlib
from typing import Any

from genlab.errors import ConfigError, GenlabError
from genlab.version import __version__

# The names imported on first use, and the module of each.
LAZY = {"train": "genlab.api", "load": "genlab.api", "evaluate": "genlab.api", "sample": "genlab.api",
        "compare": "genlab.api", "Run": "genlab.runs"}

__all__ = ["__version__", "train", "load", "evaluate", "sample", "compare", "Run", "GenlabError", "ConfigError"]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'genlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY})

