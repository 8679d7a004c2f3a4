"""Dataclass configurations that double as command-line options.

Every model family describes its training run with a dataclass whose fields are
declared with :func:`option`. The same declaration gives

* the reference default (SPEC.md),
* the validation rule (checked in ``__post_init__`` for API users and turned into
  an exit-code-2 message for command-line users),
* the ``--flag`` and its ``--help`` text.

So the CLI can never drift from the Python API.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Callable
from typing import Any

from genlab.errors import ConfigError

# A check returns None when the value is fine, else what was expected.
Check = Callable[[Any], "str | None"]


def positive(value: Any) -> str | None:
    return None if value > 0 else "a positive number"


MAX_SEED = 2**62 - 1  # room for the seeds genlab derives from a run's seed (seed + 1, ...) in 64 bits


def seed_range(value: Any) -> str | None:
    return None if 0 <= value <= MAX_SEED else "an integer from 0 to 2**62 - 1"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else "a number >= 0"


def unit_interval(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "a number in [0, 1]"


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)

    check.choices = choices  # type: ignore[attr-defined]
    return check


def option(
    default: Any, help: str, *, check: Check | None = None, flag: str | None = None, identity: bool = True,
    negated: str | None = None, shown: str | None = None,
) -> Any:
    """A config field with its default, help text, validation and CLI flag.

    ``help`` says what the field means. For a boolean whose default is False the flag is
    ``--NAME``; for one whose default is True it is ``--no-NAME``, and ``negated`` says
    what that flag does (required for such booleans). ``identity=False`` marks where
    something is (a path whose content another field pins by checksum) or how often
    something is saved, not what the run is: :meth:`Config.identity` leaves it out. ``shown`` is the
    default as ``--help`` gives it, for a field whose default (None) the config resolves from its other fields.
    """
    if default is True and negated is None:
        raise TypeError(f"option {help!r}: a boolean that defaults to True needs the help of its --no- flag (negated=)")
    metadata = {"help": help, "check": check, "flag": flag, "identity": identity, "negated": negated, "shown": shown}
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str:
    if field.metadata.get("flag"):
        return field.metadata["flag"]
    name = field.name.replace("_", "-")
    if _base_type(field) is bool and field.default is True:
        return f"--no-{name}"
    return f"--{name}"


TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def type_error(field: dataclasses.Field, value: Any) -> str | None:
    """What ``field`` expects when ``value`` is not of its type (None when it is): an integer is a
    number, but a bool is not an integer."""
    tp = _base_type(field)
    if tp not in TYPE_NAMES:
        return None
    if value is None:
        return None if _allows_none(field) else TYPE_NAMES[tp]
    if tp is bool:
        fits = isinstance(value, bool)
    elif tp is str:
        fits = isinstance(value, str)
    else:  # NumPy's integers and floats fit too
        fits = isinstance(value, numbers.Integral if tp is int else numbers.Real) and not isinstance(value, bool)
    return None if fits else TYPE_NAMES[tp]


def validate(config: Any) -> None:
    """Raise ConfigError naming the option of the first invalid field. Every float must be finite."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        expected_type = type_error(field, value)
        if expected_type is not None:
            raise ConfigError(f"{flag_of(field)}: expected {expected_type}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{flag_of(field)}: expected a finite number, got {value!r}")
        check = field.metadata.get("check")
        if value is None or check is None:
            continue
        expected = check(value)
        if expected is not None:
            raise ConfigError(f"{flag_of(field)}: expected {expected}, got {value!r}")


class Config:
    """Base for configuration dataclasses: validation on construction, dict round trip."""

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def identity(self) -> dict[str, Any]:
        """The fields that define the run: ``to_dict`` without locations (``option(identity=False)``)."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {f.name: value for f, value in zip(fields, self.to_dict().values()) if f.metadata.get("identity", True)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The config of a dict (e.g. read from a file); errors name the field, not the option."""
        if not isinstance(data, dict):
            raise ConfigError(f"expected an object of {cls.__name__} fields, got {data!r}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            names = (name if str(name).isidentifier() else repr(name) for name in unknown)  # one line, whatever a file holds
            raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(names)}")
        for name, value in data.items():
            expected_type = type_error(fields[name], value)
            if expected_type is not None:
                raise ConfigError(f"{name}: expected {expected_type}, got {value!r}")
        return cls(**data)

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _base_type(field: dataclasses.Field) -> type:
    """int for ``int``, ``int | None`` and ``Optional[int]``."""
    tp = field.type
    if isinstance(tp, str):  # postponed annotations
        tp = eval(tp, {"int": int, "float": float, "str": str, "bool": bool, "None": None})  # noqa: S307
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0]
    return tp


def _allows_none(field: dataclasses.Field) -> bool:
    tp = field.type
    if isinstance(tp, str):
        return "None" in tp or tp.startswith("Optional[")
    return type(None) in typing.get_args(tp)


def add_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """Add one option per field of ``config_class`` to ``parser``."""
    for field in dataclasses.fields(config_class):
        tp = _base_type(field)
        flag = flag_of(field)
        help_text = field.metadata.get("help", "")
        if tp is bool:
            if field.default is True:
                parser.add_argument(flag, dest=field.name, action="store_false", default=argparse.SUPPRESS,
                                    help=field.metadata["negated"])
            else:
                parser.add_argument(flag, dest=field.name, action="store_true", default=argparse.SUPPRESS, help=help_text)
            continue
        default = field.metadata.get("shown") or ("none" if field.default is None else field.default)
        check = field.metadata.get("check")
        choices = getattr(check, "choices", None)
        parser.add_argument(
            flag,
            dest=field.name,
            type=_parse(tp, flag),
            choices=choices,
            default=argparse.SUPPRESS,
            metavar=None if choices else tp.__name__.upper(),
            help=f"{help_text} (default: {default})",
        )


def _parse(tp: type, flag: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {tp.__name__}, got {text!r}") from None

    parse.__name__ = tp.__name__  # argparse names the type in its messages
    return parse


def options_given(config_class: type, namespace: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``config_class`` given on the command line, by name (the others keep their defaults):
    the keyword options of the Python API's function of the command."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in vars(namespace).items() if k in names}
