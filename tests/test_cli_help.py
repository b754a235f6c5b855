"""The README stays true: its command-line reference matches `--help`, and its worked example runs.

The "Command line" section has one ``###`` heading per command (or group of shared options), each
naming the commands it applies to in backticks, and a table whose first column lists that
command's arguments and options (with the option's metavar, or its choices joined by ``|``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from pathlib import Path

import pytest

from fastcoadd.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def documented() -> dict[str, dict[str, str | None]]:
    """Command -> {argument or option: metavar written after it (None if none)} from the README."""
    text = section(README.read_text(), "Command line")
    commands = set(subcommands(build_parser()))
    found: dict[str, dict[str, str | None]] = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        names = {word.replace("fastcoadd ", "") for word in re.findall(r"`([^`]+)`", heading)}
        targets = names & commands
        entries: dict[str, str | None] = {}
        for row in re.findall(r"^\|((?:\\\||[^|])+)\|.*\|\s*$", body, flags=re.M):
            cell = row.replace("\\|", "|").strip()
            if set(cell) <= set("-: ") or cell.lower().startswith(("argument", "option")):
                continue
            for item in re.findall(r"`([^`]+)`", cell):
                name, _, metavar = item.partition(" ")
                entries[name] = metavar or None
        for command in targets:
            found.setdefault(command, {}).update(entries)
    return found


def from_help(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """Argument or option -> the metavar `--help` shows after the long form (None for flags)."""
    entries: dict[str, str | None] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            entries[action.metavar or action.dest] = None
            continue
        if action.nargs == 0:
            metavar = None
        elif action.choices:
            metavar = "|".join(str(c) for c in action.choices)
        else:
            metavar = action.metavar or action.dest.upper()
        for option in action.option_strings:
            entries[option] = metavar if option.startswith("--") else None
    return entries


def test_every_command_has_a_readme_section():
    assert set(documented()) == set(subcommands(build_parser()))


@pytest.mark.parametrize("command", sorted(subcommands(build_parser())))
def test_readme_lists_exactly_the_arguments_and_options_of_help(command):
    parser = subcommands(build_parser())[command]
    readme = documented()[command]
    expected = from_help(parser)
    missing = sorted(set(expected) - set(readme))
    stale = sorted(set(readme) - set(expected))
    assert not missing, f"README's reference of `fastcoadd {command}` lacks {missing} (see --help)"
    assert not stale, f"README's reference of `fastcoadd {command}` lists {stale}, which --help does not have"
    for name, metavar in expected.items():
        if name.startswith("--") and readme[name] is not None:
            assert readme[name] == metavar, f"README writes `{name} {readme[name]}`, --help `{name} {metavar}`"
        if name.startswith("--") and metavar is not None:
            assert readme[name] is not None, f"README writes `{name}` without its value ({metavar})"


def test_readme_mentions_version_and_help():
    text = section(README.read_text(), "Command line")
    assert "fastcoadd --version" in text and "--help" in text


def test_help_runs_for_every_command(capsys):
    parser = build_parser()
    for command in subcommands(parser):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([command, "--help"])
        assert stop.value.code == 0
        assert f"usage: fastcoadd {command}" in capsys.readouterr().out


def test_worked_example_prints_what_the_readme_says():
    text = section(README.read_text(), "Semantics")
    example = text[text.index("### Worked example"):]
    code = re.search(r"```python\n(.*?)```", example, flags=re.S).group(1)
    expected = [line.split("#", 1)[1].strip() for line in code.splitlines()
                if line.startswith("print(") and "#" in line]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "README worked example", "exec"), {})
    assert output.getvalue().splitlines() == expected
