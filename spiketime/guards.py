"""Checks every command makes before it starts work: paths, sizes, seeds.

Each guard raises `UserError` with one sentence naming the option, the value and
the problem, so the CLI prints one `error:` line, exits 2 and has written nothing.
This module imports nothing heavy: call the guards at the top of a command's
`run(args)`, before torch, Lava or a dataset is loaded.

How a command uses them (files it reads go through their readers, `read_netx`,
`open_dataset`, `load_checkpoint`, `read_report`, which validate them):

    from spiketime import guards

    # in register(): path options typed so that "" is refused by argparse
    p.add_argument("--out", type=guards.path)
    p.add_argument("--data", type=guards.input_path)    # read: no output may replace it
    # in run(args), before the heavy imports:
    guards.seed(args.seed)                               # 0 <= seed < 2**32
    guards.input_file(args.data, "--data")               # exists, and is a file
    guards.input_folder(args.raw, "--raw")               # exists, and is a folder
    guards.output_file(args.out, "--out")                # a file this command writes
    guards.output_folder(args.out, ["report.json", "tau/model.net"], "--out")
    guards.memory(n * channels * steps, f"{n} samples x ... dense")   # fits in memory?
    with guards.undo_on_failure(args.out):               # a failed run leaves nothing new
        ...the work...

The rules (docs/errors.md says them to users):

- An output file named on the command line is the user's to replace: a regular
  file there is replaced atomically, and the command says so on stderr. Anything
  else there (a folder, a device such as /dev/full, a pipe) is refused, and so is
  a path whose parent is a file or cannot be written.
- No output replaces an input: a path typed `input_path` (a file, or any file inside
  a folder) is protected for the command's run (`protecting`, set by `cli.main`),
  through `..`, symbolic and hard links; every output check and atomic write refuses it.
- An output folder may exist; the files the command writes into it are replaced,
  any other file in it is left alone. Each of those files is checked as above
  before the work starts. A failed run removes what it created (`undo_on_failure`).
- Memory: what a command would allocate (a lower bound, from its arguments) must
  fit into what is available: the kernel's MemAvailable, and the address-space
  limit (RLIMIT_AS) where one is set.

New commands: add their bad inputs to the table in tests/test_bad_input.py.
"""
from __future__ import annotations

import argparse
import contextlib
import contextvars
import os
import resource
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from spiketime.errors import UserError

SEED_MAX = 2**32 - 1  # numpy, torch and scikit-learn all accept 0..2**32-1


# --- seeds ------------------------------------------------------------------------------

def seed(value: int, option: str = "--seed") -> int:
    """A seed every random source accepts."""
    if not 0 <= value <= SEED_MAX:
        raise UserError(f"{option} must be an integer in [0, {SEED_MAX}], got {value}")
    return value


# --- paths on the command line -----------------------------------------------------------

def path(text: str) -> Path:
    """argparse type for a path option: refuses an empty one (Path("") would be the
    current folder, and a pipeline would fill it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path; give a file or folder name")
    return _Slashed(text) if text.endswith(("/", os.sep)) else Path(text)


class _Slashed(type(Path())):
    """A path typed with a trailing '/' (which Path drops): the user meant a folder."""


def items(text: str, convert=str, *, unique: bool = False, what: str = "values") -> tuple:
    """argparse type body for a comma-separated list: every item given (`8,,8` and `''`
    are refused, never read as 8,8 or "all"), each converted, and with `unique` none twice
    (`--seeds 0,0` would train the same cell twice)."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(f"an empty item in {text!r}; give {what} separated "
                                         f"by single commas")
    try:
        values = tuple(convert(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} separated by commas, got "
                                         f"{text!r}") from None
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if unique and twice:
        raise argparse.ArgumentTypeError(f"{twice[0]} is given twice in {text!r}")
    return values


class InputPath(type(Path())):  # PosixPath (or WindowsPath): Path itself cannot be subclassed
    """A path a command reads, as `input_path` types it: no output may replace it."""


def input_path(text: str) -> InputPath:
    """argparse type for an option or argument naming a file or folder the command reads.
    `cli.main` protects every such path for the command's run (`protecting`)."""
    path(text)
    return InputPath(text)


# --- inputs no output may replace ----------------------------------------------------------

_PROTECTED: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "spiketime_protected_inputs", default=())


def inputs_of(args: argparse.Namespace) -> list[Path]:
    """The paths a parsed command line reads: its values typed by `input_path`."""
    found = []
    for value in vars(args).values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, InputPath):
                found.append(Path(item))
    return found


@contextlib.contextmanager
def protecting(inputs: Iterable[str | os.PathLike]) -> Iterator[None]:
    """While the block runs, every output check (`output_file`, `output_folder`) and every
    atomic write (`fileio.atomic_path`) refuses a target that is one of `inputs` (through
    `..`, symbolic and hard links), or an existing file inside an input folder."""
    token = _PROTECTED.set(_PROTECTED.get() + tuple(Path(p) for p in inputs))
    try:
        yield
    finally:
        _PROTECTED.reset(token)


def not_an_input(target: str | os.PathLike, what: str) -> None:
    """Refuse writing `target` (described by `what`) if that would replace an input."""
    p = Path(target)
    try:
        st = p.stat()
    except OSError:  # nothing there: writing it replaces nothing
        return
    for source in _PROTECTED.get():
        try:
            source_st = source.stat()
        except OSError:
            continue
        if os.path.samestat(st, source_st):
            raise UserError(f"{what} would replace the input {source}; "
                            "give the output a new name")
        if stat.S_ISDIR(source_st.st_mode) and p.resolve().is_relative_to(source.resolve()):
            raise UserError(f"{what} would replace {p}, a file in the input folder {source}; "
                            "give the output a new name")


# --- inputs -----------------------------------------------------------------------------

def input_file(path: str | os.PathLike | None, what: str) -> Path:
    """`path` names an existing file (not a folder); `what` names it, e.g. "--data"."""
    p = _nonempty(path, what)
    if p.is_dir():
        raise UserError(f"{what} {p} is a folder, not a file")
    if not p.exists():
        raise UserError(f"{what} not found: {p}")
    if not p.is_file():
        raise UserError(f"{what} {p} is not a regular file")
    return p


def input_folder(path: str | os.PathLike | None, what: str) -> Path:
    p = _nonempty(path, what)
    if not p.exists():
        raise UserError(f"{what} folder not found: {p}")
    if not p.is_dir():
        raise UserError(f"{what} {p} is a file, not a folder")
    return p


# --- outputs ----------------------------------------------------------------------------

def output_file(path: str | os.PathLike | None, option: str, *, announce: bool = True) -> Path:
    """Refuse, up front, an output file that cannot be written or must not be replaced.
    A regular file already there is replaced (said on stderr when `announce`)."""
    p = _nonempty(path, option)
    if isinstance(path, _Slashed) or str(path).endswith(("/", os.sep)):  # meant a folder
        raise UserError(f"{option} {str(p).rstrip('/')}/ ends in '/', so it names a folder; "
                        f"this option takes a file name")
    _writable_target(p, f"{option} {p}")
    if announce and p.is_file():
        print(f"note: {option} {p} exists and will be replaced", file=sys.stderr)
    return p


def output_folder(path: str | os.PathLike | None, files: Iterable[str], option: str) -> Path:
    """Refuse, up front, an output folder, or any of the `files` (relative paths) the
    command will write into it, that cannot be written. Existing files are replaced."""
    folder = _nonempty(path, option)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{option} {folder} is a file, not a folder")
    _creatable(folder, f"{option} {folder}")
    for name in files:
        _writable_target(folder / name, f"{option} {folder}: {name}")
    return folder


def replaceable(path: str | os.PathLike) -> None:
    """What `fileio.atomic_path` asks before it renames onto `path`: nothing there, or
    a regular file (never a folder, device, pipe or link) that is no input."""
    kind = _kind(Path(path))
    if kind is not None:
        raise UserError(f"{path} is {kind}; spiketime writes (and replaces) only regular files")
    not_an_input(path, str(path))


def _kind(p: Path) -> str | None:
    """What is at `p` if it is something a write must not replace (None: free or a file)."""
    try:
        mode = os.lstat(p).st_mode
    except OSError:  # nothing there, or a parent that is a file: the parent check says so
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file (a device, pipe or socket)"


def _nonempty(path: str | os.PathLike | None, option: str) -> Path:
    if path is None or not str(path).strip():
        raise UserError(f"{option} is empty; give a path")
    return Path(path)


def _writable_target(p: Path, what: str) -> None:
    kind = _kind(p)
    if kind is not None:
        raise UserError(f"{what} is {kind}; spiketime writes (and replaces) only regular files")
    not_an_input(p, what)
    _creatable(p.parent, what)


def _creatable(folder: Path, what: str) -> None:
    """`folder` exists and takes new files, or can be made below its nearest ancestor."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{what}: {existing} is a file, so no folder can be made there")
    try:  # a real probe: access() says yes to root on read-only file systems and /proc
        fd, probe = tempfile.mkstemp(prefix=".spiketime-probe.", dir=existing)
    except OSError as exc:
        raise UserError(f"{what}: {existing} is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


INCOMPLETE = "INCOMPLETE.txt"  # in a folder a run is writing, or a failed run left behind
RUNNING = "A spiketime run (process {pid}) is writing this folder. If no such process runs, "\
          "it was killed (SIGKILL, a power cut) and these files do not belong together: "\
          "rerun the command; a successful run removes this file.\n"


@contextlib.contextmanager
def undo_on_failure(folder: str | os.PathLike) -> Iterator[None]:
    """Run a block that writes into `folder`; if it raises (or is interrupted: Ctrl-C,
    SIGTERM), remove every file and folder it created there, so a failed run leaves
    nothing new. Files that were there before and were replaced (atomically: each is
    whole, old or new) cannot be restored: then `INCOMPLETE.txt` names them. While the
    block runs, `INCOMPLETE.txt` says a run is writing the folder, so a run killed
    where nothing can be caught (SIGKILL) leaves it behind; a rerun says so, and the
    next successful run into the folder removes it. (The folder is made on entry.)"""
    root = Path(folder)
    missing = _first_missing(root)
    before = _tree(root)
    marker = root / INCOMPLETE
    mine = RUNNING.format(pid=os.getpid())
    stale = marker.is_file() and _read(marker) != mine  # noted once this run succeeds
    outer = marker.is_file() and _read(marker) == mine  # nested in a block of this process
    try:
        if not outer:
            root.mkdir(parents=True, exist_ok=True)
            marker.write_text(mine)
        yield
    except BaseException:
        if outer:
            raise
        if missing is not None:
            shutil.rmtree(missing, ignore_errors=True)
        else:
            _undo(root, before)
        raise
    if not outer:
        if stale:  # refusal stays one line; a success says what it replaced
            print(f"note: {root} held an incomplete run ({INCOMPLETE}); its files are "
                  f"replaced", file=sys.stderr)
        marker.unlink(missing_ok=True)


LOCK = ".spiketime.lock"  # in a folder one process at a time may write (a train run)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, option: str) -> Iterator[None]:
    """Hold `folder` for this process: another process asking for it meanwhile is refused
    with one line. The lock is the kernel's (flock), so a process that dies, however it
    dies (SIGKILL too), holds it no longer. A folder made here and left empty is removed."""
    import fcntl

    root = Path(folder)
    missing = _first_missing(root)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(f"{option} {root} is in use by another spiketime run (process "
                            f"{holder}); wait for it to end, or choose another {option}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(root / LOCK)  # while still held: a waiting process then finds none
        os.close(fd)
        if missing is not None and not any(root.iterdir()):
            shutil.rmtree(missing, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return ""


def _undo(root: Path, before: dict[Path, int]) -> None:
    now = _tree(root)
    for p in sorted(set(now) - set(before), key=lambda q: len(q.parts), reverse=True):
        with contextlib.suppress(OSError):
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
    replaced = sorted(str(p.relative_to(root)) for p, t in before.items()
                      if p in now and now[p] != t and not p.is_dir() and p.name != INCOMPLETE)
    if replaced:
        with contextlib.suppress(OSError):
            (root / INCOMPLETE).write_text(
                "A spiketime run into this folder failed after replacing these files, so "
                "they no longer belong with the others; rerun the command:\n"
                + "".join(f"  {name}\n" for name in replaced))


def _first_missing(p: Path) -> Path | None:
    """The outermost folder of `p` that does not exist yet (None: `p` exists)."""
    if p.exists():
        return None
    while not p.parent.exists():
        p = p.parent
    return p


def _tree(root: Path) -> dict[Path, int]:
    """Every path under root with its modification time (ns)."""
    return {p: p.lstat().st_mtime_ns for p in root.rglob("*")} if root.is_dir() else {}


# --- memory -----------------------------------------------------------------------------

def memory(nbytes: float, what: str) -> None:
    """Refuse work that would allocate `nbytes` (a lower bound) when less is available."""
    available = available_bytes()
    if nbytes > available:
        raise UserError(f"{what} needs at least {_size(nbytes)} of memory, but "
                        f"{_size(available)} is available")


def disk(nbytes: float, folder: str | os.PathLike, what: str) -> None:
    """Refuse work that would write `nbytes` (a lower bound) into `folder` (or where it
    would be made) when the file system has less free."""
    existing = Path(folder)
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if nbytes > free:
        raise UserError(f"{what} needs at least {_size(nbytes)} of disk, but {existing} has "
                        f"{_size(free)} free")


def available_bytes() -> int:
    """Memory this process may still allocate: MemAvailable, capped by RLIMIT_AS."""
    free = _meminfo("MemAvailable")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        free = min(free, max(0, soft - _status("VmSize")))
    return free


def _meminfo(key: str) -> int:
    return _kib_field("/proc/meminfo", key, default=1 << 62)


def _status(key: str) -> int:
    return _kib_field("/proc/self/status", key, default=0)


def _kib_field(path: str, key: str, default: int) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return default


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes / 2**10:,.1f} KB"
