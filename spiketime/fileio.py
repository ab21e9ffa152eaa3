"""Atomic file writing: a crash or an error never leaves a partial output file, and
nothing but a regular file is ever replaced (a folder, a device such as /dev/full, a
pipe or a link at the target is refused with a `UserError`). Also the one reader of
JSON stored in an HDF5 attribute."""
from __future__ import annotations

import contextlib
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
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield Path(tmp)
        replaceable(target)  # again: something may have appeared there meanwhile
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


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
