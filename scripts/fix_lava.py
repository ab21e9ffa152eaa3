"""Apply the two source fixes Lava needs on Python 3.11; safe to run again.

1. lava/magma/compiler/var_model.py: dataclass fields default to a mutable
   `ByteEncoder()`, which Python 3.11 rejects; use a default_factory.
2. lava/lib/dl/slayer/__init__.py: the `object_detection` import needs torchvision
   and opencv, which a CPU install does not have; make it optional.
"""
from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

VAR_MODEL = "lava/magma/compiler/var_model.py"
SLAYER_INIT = "lava/lib/dl/slayer/__init__.py"
OBD_IMPORT = "from . import object_detection as obd\n"
OBD_OPTIONAL = (
    "try:  # needs torchvision and opencv (spiketime: optional on CPU)\n"
    "    from . import object_detection as obd\n"
    "except ImportError:  # pragma: no cover\n"
    "    obd = None\n"
)


def fix_var_model(text: str) -> str:
    text = text.replace(
        "ByteEncoder = ByteEncoder()", "ByteEncoder = field(default_factory=ByteEncoder)"
    )
    old = "from dataclasses import dataclass, InitVar\n"
    if "default_factory=ByteEncoder" in text and old in text:
        text = text.replace(old, "from dataclasses import dataclass, InitVar, field\n")
    return text


def fix_slayer_init(text: str) -> str:
    return text.replace(OBD_IMPORT, OBD_OPTIONAL) if OBD_OPTIONAL not in text else text


def apply(site: Path) -> list[str]:
    changed = []
    for rel, fix in ((VAR_MODEL, fix_var_model), (SLAYER_INIT, fix_slayer_init)):
        path = site / rel
        if not path.exists():
            raise SystemExit(f"error: {path} not found; install lava-nc and lava-dl first")
        text = path.read_text()
        new = fix(text)
        if new != text:
            path.write_text(new)
            changed.append(rel)
    return changed


if __name__ == "__main__":
    site = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sysconfig.get_paths()["purelib"])
    changed = apply(site)
    print("lava fixes: " + (", ".join(changed) + " patched" if changed else "already applied"))
