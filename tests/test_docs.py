"""The docs match the code: every concrete ``genlab`` command in README.md and docs/ parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from genlab.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"\.\.\.|[\[{|<]|\b[A-Z]{2,}\b")  # usage synopses: genlab train MODEL --out RUN ...


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each line of a fenced code block that runs genlab with concrete arguments."""
    found = []
    for doc in DOCS:
        in_code = False
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_code = not in_code
                continue
            command = line.split(" #")[0].strip().removeprefix("$ ")
            if in_code and command.startswith("genlab ") and not PLACEHOLDER.search(command):
                found.append((f"{doc.name}:{number}", command))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands_of_every_kind():
    verbs = {shlex.split(command)[1] for _, command in COMMANDS}
    assert {"train", "eval", "sample", "lab"} <= verbs and len(COMMANDS) > 20


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_a_documented_command_parses(where, command, capsys):
    try:
        build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit:
        pytest.fail(f"{where}: `{command}` does not parse: {capsys.readouterr().err.strip()}")
