"""Atomic file writing: a crash or an error never leaves a partial output file, and
nothing but a regular file is ever replaced (a folder, a device such as /dev/full, a
pipe or a link at the target is refused with a `UserError`). Also the one reader of
JSON stored in an HDF5 attribute."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from spiketime.errors import UserError
from spiketime.guards import replaceable


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    target = Path(path)
    replaceable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        try:
            yield Path(tmp)
        except OSError as exc:  # disk full, quota, I/O error: one line, the old file kept
            kept = "the earlier file is kept" if target.exists() else "nothing was written"
            raise UserError(f"cannot write {target}: {exc.strerror or exc}; {kept}") from None
        replaceable(target)  # again: something may have appeared there meanwhile
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _remove_stale(target: Path) -> None:
    """Remove temporary files of earlier writes to `target` whose process is gone (killed
    where nothing could be caught): their names carry the writer's process id."""
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def whole_numbers(values, name: str):
    """`values` (an array read from a file) as int64, refusing what a cast would silently
    change: non-numbers, NaN and infinities, fractions (0.5 would become 0) and magnitudes
    beyond int64 (1e30 would become -9223372036854775808). Raises ValueError naming `name`;
    each reader words it as its file's error."""
    import numpy as np

    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold numbers, got {arr.dtype}")
    bad = np.count_nonzero(~np.isfinite(arr))
    if bad:
        raise ValueError(f"{name} holds {bad} NaN or infinite value{'s' if bad > 1 else ''}")
    if not np.all(arr == np.round(arr)):
        first = arr.reshape(-1)[np.flatnonzero(arr.reshape(-1) != np.round(arr.reshape(-1)))[0]]
        raise ValueError(f"{name} must hold whole numbers, found {first:g}")
    peak = float(np.abs(arr).max(initial=0))
    if peak >= 2.0**63:
        raise ValueError(f"{name} holds {peak:.3g}, beyond any 64-bit integer")
    return arr.astype(np.int64)


def json_attribute(raw: object, key: str, kind: type, where: str,
                   error: type[UserError] = UserError) -> object:
    """Parse attribute `key` (text or bytes holding JSON) of `where`, which must be a JSON
    list or object (`kind`); otherwise raise `error` naming the file and the attribute."""
    what = {list: "a JSON list", dict: "a JSON object"}[kind]
    try:
        value = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{where}: the attribute {key!r} is not valid JSON "
                    f"({getattr(exc, 'msg', exc)}); it must be {what}") from None
    if not isinstance(value, kind):
        raise error(f"{where}: the attribute {key!r} must be {what}, "
                    f"got {type(value).__name__}")
    return value
