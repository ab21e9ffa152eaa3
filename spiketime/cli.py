"""The `spiketime` command line: one sub-command module per job.

Each module in COMMANDS exposes `register(subparsers)`, which adds its parser and
sets `func(args) -> int` as the default. User errors (`UserError`) print one line,
`error: ...`, and exit 2; nothing else is caught.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so it unwinds as Ctrl-C does: partial
    folders are undone (`guards.undo_on_failure`), temporary files removed."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(rc: int, argv: list[str] | None) -> int:
    """A run stopped by a signal has undone its partial output by now; as a program (argv
    None) it exits at once with `rc`, past the interpreter's finalisation, where a thread
    of a compiled kernel's pool interrupted mid-call can abort the process (measured:
    "Fatal Python error: PyThreadState_Get" and SIGABRT instead of 143). In-process
    callers (tests) get `rc` back."""
    if argv is not None:
        return rc
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_as_interrupt(), warnings.catch_warnings():
            # numpy's arithmetic warnings (a NaN met on the way to a refusal) are not for
            # users: the values they are about are refused, or reported, in words
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message="(invalid value|divide by zero|overflow) encountered")
            finite_numbers(args, option_names(parser))
            with guards.protecting(guards.inputs_of(args)):  # no output replaces an input
                rc = int(args.func(args) or 0)
            sys.stdout.flush()  # a full disk behind stdout is an error, not a traceback at exit
            return rc
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("error: terminated (SIGTERM); nothing partial was left", file=sys.stderr)
        return _stopped(143, argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return _stopped(130, argv)
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        if exc.filename is not None:  # about a path the user gave: a name too long, ...
            print(f"error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"error: cannot write: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
