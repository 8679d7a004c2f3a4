"""``genlab lab TASK --dataset NAME|DIR --set KEY=VALUE``: a preset's runs on another data set, with
settings changed.

A key is ``[SCOPE.]FIELD``: SCOPE is a family (``rbm``, ``dbn``, ``dbn-finetune``, ``vae``,
``dcgan``) or ``eval`` (how every run is measured), FIELD a field of its config with ``_`` or
``-`` (``rbm.cd-k``, ``eval.ais_runs``). Without a scope the field is set in every run of the
task that has it (``epochs=5``), else in the eval config. The changed configs are the runs'
configs, so their content hashes (:func:`genlab.lab.core.config_key`) change with them: a run
trained without an override is never re-used for one with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.config import Config, _allows_none, _base_type
from genlab.data import DATASETS
from genlab.errors import ConfigError
from genlab.evaluation.config import EvalConfig
from genlab.families import FAMILIES
from genlab.lab.presets import Preset
from genlab.training.session import TrainConfig

EVAL = "eval"
# Fields the lab sets itself: the data set (--dataset), the runs a stacked run builds on, and those
# runs' shape (taken from them), and the options that say how a run is saved or measured, not what it is.
FIXED = {"dataset", "rbm", "rbm_sha256", "rbm_hidden", "rbm_cd_k", "dbn", "dbn_sha256", "unfinished"}
# ... and the settings a lab's experiments compare (the VAE lab's latent sizes 20 and 2, the DCGAN lab's variants)
COMPARED = {"vae": {"latent"}, "dcgan": {"d_steps", "g_steps", "batchnorm"}}
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Override:
    """One ``--set``: the key as given, its scope (a family, ``eval`` or None for every run), field and value text."""

    key: str
    scope: str | None
    field: str
    text: str


def family_of(config: TrainConfig) -> str:
    return next(name for name, family in FAMILIES.items() if type(config) is family.config)


def settable(config: Config) -> dict[str, dataclasses.Field]:
    """The fields of ``config`` (a run's or the eval config) that ``--set`` may change, by name."""
    compared = COMPARED.get(family_of(config), set()) if isinstance(config, TrainConfig) else set()
    return {f.name: f for f in dataclasses.fields(config)  # type: ignore[arg-type]
            if f.name not in FIXED | compared and f.metadata.get("identity", True)}


def allowed_keys(presets: Iterable[Preset]) -> list[str]:
    """Every key ``--set`` takes for these presets: ``family.field`` of each run's config, ``eval.field``."""
    keys = {f"{family_of(c)}.{name}" for p in presets for c in p.runs.values() for name in settable(c)}
    return sorted(keys) + [f"{EVAL}.{name}" for name in settable(EvalConfig())]


def parse(items: Sequence[str], presets: Sequence[Preset]) -> list[Override]:
    """``--set`` items as overrides, each checked against the presets' configs: an unknown key, or one without
    a value, is refused naming it and the keys there are. A field without a scope applies to every run that
    has it, else to the eval config."""
    allowed = allowed_keys(presets)
    run_fields = {key.split(".", 1)[1] for key in allowed if not key.startswith(EVAL + ".")}
    overrides = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. epochs=5 or rbm.cd_k=3")
        scope, dot, field = key.rpartition(".")
        field = field.replace("-", "_")
        if not dot:
            scope = "" if field in run_fields else EVAL
        if (f"{scope}.{field}" not in allowed) if scope else (field not in run_fields):
            raise ConfigError(f"--set {key}: not a setting this task takes, expected one of {', '.join(allowed)} "
                              "(or a field alone, for every run that has it)")
        overrides.append(Override(key, scope or None, field, text.strip()))
    return overrides


def value_of(override: Override, field: dataclasses.Field) -> Any:
    """The text of an override as a value of the field's type."""
    text, tp = override.text, _base_type(field)
    if text.lower() == "none" and _allows_none(field):
        return None
    if tp is bool:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ConfigError(f"--set {override.key}: expected true or false, got {text!r}")
    try:
        return tp(text)
    except ValueError:
        expected = {int: "an integer", float: "a number"}.get(tp, tp.__name__)
        raise ConfigError(f"--set {override.key}: expected {expected}, got {text!r}") from None


def changed(config: Config, scope: str, overrides: Sequence[Override]) -> Config:
    """``config`` (of family ``scope``, or the eval config) with the overrides that apply to it, one at a time so
    that an invalid value is refused naming its key."""
    fields = settable(config)
    for o in overrides:
        if o.field in fields and (o.scope == scope or o.scope is None and scope != EVAL):
            try:
                config = config.replace(**{o.field: value_of(o, fields[o.field])})
            except ConfigError as e:  # '--epochs: expected a positive number, got 0': named by the key given
                raise ConfigError(f"--set {o.key}:{str(e).split(':', 1)[1]}") from None
    return config


def customized(p: Preset, dataset: str | None, overrides: Sequence[Override]) -> Preset:
    """The preset ``p`` with every run on ``dataset`` (when given) and the overrides applied."""
    runs = {}
    for role, config in p.runs.items():
        if dataset is not None:
            config = config.replace(dataset=dataset)
        runs[role] = changed(config, family_of(config), overrides)
    # a setting --set changes is the user's in every run: no run keeps the preset's own value of it (the changes
    # by label are those of the runs of the preset's reference family)
    family = family_of(p.runs["reference"]) if "reference" in p.runs else None
    mine = {o.field for o in overrides if o.scope is None or o.scope == family}
    budgets = {label: {k: v for k, v in change.items() if k not in mine} for label, change in p.changes.items()}
    changes = ([f"--dataset {dataset}"] if dataset is not None else []) + [f"--set {o.key}={o.text}" for o in overrides]
    note = p.note + (f" (changed here: {', '.join(changes)})" if changes else "")
    return dataclasses.replace(p, runs=runs, eval=changed(p.eval, EVAL, overrides), note=note, changes=budgets)


def dataset_option(dataset: str | None) -> str | None:
    """``--dataset`` as the runs' configs record it: a known name, or a directory as its absolute path."""
    if dataset is None or dataset in DATASETS:
        return dataset
    directory = Path(dataset).expanduser()
    if not directory.is_dir():
        raise ConfigError(f"--dataset: unknown data set {dataset!r}, expected {', '.join(DATASETS)} or a directory of IDX files")
    return str(directory.resolve())
