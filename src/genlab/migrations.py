"""How run directories written by earlier versions of genlab read today.

Every change of the run format is written down here, once, so that training code never
carries backward-compatibility branches:

* options added to a family after its runs existed (:data:`ADDED_OPTIONS`): a run's
  identity leaves them out at the value the earlier runs had, so a lab directory made
  before they existed keeps re-using its runs (:func:`identity`);
* the DCGAN's ``bf16`` before genlab 0.2 (:func:`current_config`);
* from genlab 0.3 the RBM's and the DBN's plain loop draws from the counter stream of the fast paths (it
  drew from ``torch.Generator`` before), and ``compile`` is on by default and no longer part of a run's
  identity: a run of 0.2 reads, evaluates and is re-used by the lab as it is, and resumed it continues
  on 0.3's stream (nothing to convert);
* eval.json's ``fid`` and ``fid_floor``, renamed ``frechet_classifier_distance`` and
  ``frechet_classifier_distance_floor`` (:func:`current_eval`): they are a Frechet distance on
  genlab's own classifier, not the Inception FID of papers.
"""

from __future__ import annotations

import re
from typing import Any

# eval.json keys of earlier versions -> their names today
RENAMED_EVAL_KEYS: dict[str, str] = {
    "fid": "frechet_classifier_distance",
    "fid_floor": "frechet_classifier_distance_floor",
}

# family -> {option: the value every run had before the option existed}
ADDED_OPTIONS: dict[str, dict[str, Any]] = {
    "vae": {"bf16": False},
    "dcgan": {"bf16": False},
}


def identity(family: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A config's identity fields (``Config.identity()``) without the options added later, where
    they hold the value that runs from before had."""
    added = ADDED_OPTIONS.get(family, {})
    return {name: value for name, value in fields.items() if not (name in added and value == added[name])}


def written_before(meta: dict[str, Any], version: tuple[int, int]) -> bool:
    """Whether config.json ``meta`` was written by a genlab older than ``version`` (major, minor)."""
    written_by = re.match(r"(\d+)\.(\d+)", meta.get("versions", {}).get("genlab", "0.0"))
    return written_by is None or (int(written_by[1]), int(written_by[2])) < version


def current_config(family: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The config of a run (config.json ``meta``) as this version of genlab reads it."""
    config = dict(meta.get("config", {}))
    if family == "dcgan" and written_before(meta, (0, 2)):
        # before 0.2, bf16 (then on by default) applied on CUDA only, and cpu_bf16 asked for it on the CPU
        cpu_bf16 = config.pop("cpu_bf16", False)
        config["bf16"] = config.get("bf16", True) and (cpu_bf16 or str(meta.get("device", "")).startswith("cuda"))
    return config


def current_eval(results: dict[str, Any]) -> dict[str, Any]:
    """An eval.json as this version of genlab reads it: keys of earlier versions under their names today."""
    return {RENAMED_EVAL_KEYS.get(key, key): value for key, value in results.items()}
