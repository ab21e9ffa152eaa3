"""The `spiketime` command line: one sub-command module per job.

Each module in COMMANDS exposes `register(subparsers)`, which adds its parser and
sets `func(args) -> int` as the default. User errors (`UserError`) print one line,
`error: ...`, and exit 2; nothing else is caught.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys

from spiketime import guards
from spiketime.errors import UserError

COMMANDS = [
    "spiketime.commands.data",
    "spiketime.commands.train",
    "spiketime.commands.export",
    "spiketime.commands.nir_import",
    "spiketime.commands.pipeline",
    "spiketime.commands.check",
    "spiketime.commands.deploy",
    "spiketime.commands.compare",
    "spiketime.commands.experiment",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spiketime", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> how the user spells it (`--lr`, or a positional's name), every sub-command."""
    names: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= option_names(sub)
        elif action.dest not in names:
            longest = max(action.option_strings, key=len, default=action.dest)
            names[action.dest] = longest
    return names


def finite_numbers(args: argparse.Namespace, names: dict[str, str]) -> None:
    """No option takes NaN or an infinity: `--lr inf` would train to infinite weights and
    `--test-fraction nan` compare false everywhere, each without a word."""
    for dest, value in vars(args).items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, float) and not math.isfinite(item):
                raise UserError(f"{names.get(dest, dest)} must be a finite number, got {item}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        finite_numbers(args, option_names(parser))
        with guards.protecting(guards.inputs_of(args)):  # no output replaces an input
            return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
