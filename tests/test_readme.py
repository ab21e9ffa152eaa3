"""The README's examples stay true: every `spiketime ...` line of its sh blocks parses
with the real CLI (options that exist, values they accept), its Python blocks compile
and name only functions the API has, and the figures the issue called stale are gone."""
from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

import spiketime
from spiketime.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def commands() -> list[list[str]]:
    found = []
    for block in blocks("sh"):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("spiketime "):
                found.append(shlex.split(line)[1:])
    return found


@pytest.mark.parametrize("argv", commands(), ids=lambda a: " ".join(a[:2]))
def test_every_readme_command_parses(argv):
    args = build_parser().parse_args(argv)  # argparse exits (SystemExit) on a bad option
    assert callable(args.func)


def test_the_readme_shows_each_job_as_a_command_and_in_python():
    assert len(commands()) >= 8 and "make demo" in README and "make test" in README
    names = set()
    for block in blocks("python"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "spiketime":
                names.add(node.attr)
    assert {"train", "export", "compare"} <= names
    assert all(hasattr(spiketime, name) for name in names), names
    assert "assert_parity" in README and "examples/parity-ci.yml" in README


def test_the_stale_figures_are_gone():
    for stale in ("105 us", "198 us", "14 min"):
        assert stale not in README
