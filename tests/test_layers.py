"""The import graph follows the data flow: no stage imports a later one.

Layers, earliest first: the shared core (spiketime/*.py but the CLI) < data < train <
export < sim < deploy < parity < the CLI (spiketime/cli.py, __main__.py,
commands/). A module may import its own layer and earlier ones; every `import` and
`from` statement counts, function-local ones included. sim/ and deploy/ run NetX
files and never import the torch side (train/) either.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "data", "train", "export", "sim", "deploy", "parity", "cli")
STAGE_FOLDERS = ("data", "train", "export", "sim", "deploy", "parity")
FORBIDDEN = {"sim": {"train"}, "deploy": {"train"}}  # beyond the order: NetX side, no torch model


def layer_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] in STAGE_FOLDERS:
        return rel[0]
    if rel[0] == "spiketime":
        return "cli" if rel[1] in ("cli.py", "__main__.py", "commands") else "core"
    raise ValueError(f"{path} is not part of the package")


def layer_of_module(module: str) -> str | None:
    """The layer a `spiketime...` module belongs to; None for anything outside spiketime."""
    parts = module.split(".")
    if parts[0] != "spiketime":
        return None
    if len(parts) == 1:
        return "core"
    if parts[1] in STAGE_FOLDERS:
        return parts[1]
    return "cli" if parts[1] in ("cli", "__main__", "commands") else "core"


def imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in `tree`; `from . import x` resolved against `package`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base == "spiketime":  # `from spiketime import loihi2`: the names are modules
                found += [(node.lineno, f"spiketime.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("").parts
    top = rel[0] if rel[0] == "spiketime" else f"spiketime.{rel[0]}"
    return ".".join([top, *rel[1:-1]])


def violations(path: Path, source: str) -> list[str]:
    """One 'file:line: ...' per import that runs against the layer order."""
    mine = layer_of_file(path)
    bad = []
    for line, module in imported_modules(ast.parse(source), package_of(path)):
        theirs = layer_of_module(module)
        if theirs is None:
            continue
        where = f"{path.relative_to(ROOT)}:{line}"
        if LAYERS.index(theirs) > LAYERS.index(mine):
            bad.append(f"{where}: {mine} imports {module} ({theirs}, a later layer)")
        elif theirs in FORBIDDEN.get(mine, ()):
            bad.append(f"{where}: {mine} imports {module} ({theirs} is the torch side)")
    return bad


def package_files() -> list[Path]:
    files = sorted((ROOT / "spiketime").rglob("*.py"))
    for folder in STAGE_FOLDERS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_every_stage_folder_is_scanned():
    assert {layer_of_file(p) for p in package_files()} == set(LAYERS)


def test_no_import_runs_against_the_data_flow():
    bad = [v for path in package_files() for v in violations(path, path.read_text())]
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


@pytest.mark.parametrize("file, source, words", [
    ("train/trainer.py", "def f():\n    from spiketime.sim.progress import progress\n",
     "train/trainer.py:2: train imports spiketime.sim.progress (sim, a later layer)"),
    ("spiketime/readout.py", "import spiketime.train.model\n", "core imports spiketime.train"),
    ("data/dataset.py", "from spiketime.train.model import SpikingNet\n",
     "data imports spiketime.train"),
    ("export/netx.py", "from ..parity import reports\n", "export imports spiketime.parity"),
    ("sim/emulator.py", "from spiketime.train.model import SpikingNet\n", "torch side"),
    ("deploy/chip_check.py", "from spiketime.commands import check\n", "cli, a later layer"),
])
def test_the_check_catches_a_bad_edge(file, source, words):
    found = violations(ROOT / file, source)
    assert len(found) == 1 and words in found[0], found


def test_allowed_edges_pass():
    assert violations(ROOT / "parity/harness.py",
                      "from spiketime.train.evaluate import run_trained\n"
                      "from spiketime.deploy.registry import REGISTRY\nimport numpy\n") == []
    assert violations(ROOT / "spiketime/commands/check.py",
                      "from spiketime import loihi2\nfrom spiketime.parity import reports\n") == []
