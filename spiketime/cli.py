"""The `spiketime` command line: one sub-command module per job.

Each module in COMMANDS exposes `register(subparsers)`, which adds its parser and
sets `func(args) -> int` as the default. User errors (`UserError`) print one line,
`error: ...`, and exit 2; nothing else is caught.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
