"""The import graph follows the data flow: no stage imports a later one.

Layers, earliest first: the shared core (spiketime/*.py but the top two) < data < train <
export < sim < deploy < parity < the Python API (spiketime/api.py, testing.py) < the CLI
(spiketime/cli.py, __main__.py, commands/). A module may import its own layer and earlier
ones; every `import` and `from` statement counts, function-local ones included, and so
does `importlib.import_module("spiketime...")` with a literal name. sim/ and deploy/ run
NetX files and never import the torch side (train/) either.

Sanctioned forward edges (`SANCTIONED`), each through importlib at call time so that
`import spiketime` stays light: the package's lazy names (spiketime/__init__.py) and the
callable stage packages `spiketime.train(...)` / `spiketime.export(...)`
(spiketime/callable_package.py) reach the API.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "data", "train", "export", "sim", "deploy", "parity", "api", "cli")
API_MODULES = ("api", "testing")  # spiketime/api.py, spiketime/testing.py
SANCTIONED = {("spiketime/__init__.py", "spiketime.api"),
              ("spiketime/__init__.py", "spiketime.testing"),
              ("spiketime/callable_package.py", "spiketime.api")}
STAGE_FOLDERS = ("data", "train", "export", "sim", "deploy", "parity")
FORBIDDEN = {"sim": {"train"}, "deploy": {"train"}}  # beyond the order: NetX side, no torch model


def layer_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] in STAGE_FOLDERS:
        return rel[0]
    if rel[0] == "spiketime":
        if rel[1] in ("cli.py", "__main__.py", "commands"):
            return "cli"
        return "api" if Path(rel[1]).stem in API_MODULES and len(rel) == 2 else "core"
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
    if parts[1] in API_MODULES:
        return "api"
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
        elif (isinstance(node, ast.Call) and _is_import_module(node.func) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_import_module(func: ast.expr) -> bool:
    """`importlib.import_module` or a bare `import_module`."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id == "import_module"


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
        if theirs is None or (str(path.relative_to(ROOT)), module) in SANCTIONED:
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
    ("parity/verdict.py", "from spiketime.api import compare\n", "api, a later layer"),
    ("spiketime/api.py", "from spiketime.commands import train\n", "cli, a later layer"),
    ("train/run.py", "import importlib\nimportlib.import_module('spiketime.api')\n",
     "train/run.py:2: train imports spiketime.api (api, a later layer)"),
    ("spiketime/guards.py", "import importlib\nimportlib.import_module('spiketime.testing')\n",
     "core imports spiketime.testing"),
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
    assert violations(ROOT / "spiketime/commands/compare.py", "from spiketime import api\n") == []
    assert violations(ROOT / "spiketime/testing.py",
                      "from spiketime.api import compare\nfrom spiketime.parity import verdict\n"
                      ) == []


def test_the_sanctioned_forward_edges_are_the_only_ones_and_exist():
    """Each sanctioned edge is in its file (else the exception should go), and the same
    import anywhere else in the core is refused."""
    for file, module in SANCTIONED:
        found = imported_modules(ast.parse((ROOT / file).read_text()), package_of(ROOT / file))
        assert module in [m for _, m in found], (file, module)
    assert violations(ROOT / "spiketime/readout.py",
                      "import importlib\nimportlib.import_module('spiketime.api')\n")
