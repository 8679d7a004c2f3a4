"""genlab.config: one declaration gives defaults, validation and CLI flags."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from genlab import config as cfg
from genlab.errors import ConfigError


@dataclass
class Example(cfg.Config):
    epochs: int = cfg.option(3, "passes", check=cfg.positive)
    rate: float = cfg.option(0.5, "a rate", check=cfg.unit_interval)
    binarize: bool = cfg.option(True, "sample the pixels", negated="use probabilities")
    persistent: bool = cfg.option(False, "keep chains")
    limit: int | None = cfg.option(None, "first N", check=cfg.positive)
    kind: str = cfg.option("a", "which", check=cfg.one_of("a", "b"))


def parse(*argv):
    p = argparse.ArgumentParser(exit_on_error=False)
    cfg.add_arguments(p, Example)
    return Example(**cfg.options_given(Example, p.parse_args(argv)))


def test_defaults_and_flags_map_to_fields():
    assert parse() == Example()
    got = parse("--epochs", "7", "--no-binarize", "--persistent", "--limit", "10", "--kind", "b")
    assert got == Example(epochs=7, binarize=False, persistent=True, limit=10, kind="b")


def test_invalid_values_name_the_flag():
    with pytest.raises(ConfigError, match="--epochs: expected a positive number, got 0"):
        Example(epochs=0)
    with pytest.raises(ConfigError, match="--rate: expected a number in \\[0, 1\\]"):
        parse("--rate", "2")


def test_dict_round_trip_and_unknown_fields():
    e = Example(epochs=9)
    assert Example.from_dict(e.to_dict()) == e
    with pytest.raises(ConfigError, match="unknown Example field\\(s\\): bogus"):
        Example.from_dict({"bogus": 1})


def test_a_true_boolean_describes_the_field_and_its_no_flag_what_that_flag_does():
    p = argparse.ArgumentParser()
    cfg.add_arguments(p, Example)
    helps = {a.option_strings[0]: a.help for a in p._actions if a.option_strings}
    assert helps["--no-binarize"] == "use probabilities" and helps["--persistent"] == "keep chains"
    field = next(f for f in dataclasses.fields(Example) if f.name == "binarize")
    assert field.metadata["help"] == "sample the pixels"
    with pytest.raises(TypeError, match="needs the help of its --no- flag"):
        cfg.option(True, "on by default")


@dataclass
class Located(cfg.Config):
    size: int = cfg.option(3, "a size")
    where: str = cfg.option("here", "a location", identity=False)


def test_identity_leaves_out_locations():
    assert Located().identity() == {"size": 3}
    assert Located(where="there").identity() == {"size": 3}
    assert Located(size=4).identity() == {"size": 4}


def test_float_options_must_be_finite():
    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ConfigError, match=r"^--rate: expected a finite number, got"):
            Example(rate=bad)
    with pytest.raises(ConfigError, match=r"^--rate: expected a finite number, got inf$"):
        parse("--rate", "inf")


def test_an_unknown_field_read_from_a_file_is_named_on_one_line():
    from genlab.training.rbm import RBMConfig

    with pytest.raises(ConfigError) as info:
        RBMConfig.from_dict({"\n": None, "hiden": 3})
    assert str(info.value) == "unknown RBMConfig field(s): '\\n', hiden"
