"""The Python API's contract: a light `import spiketime`, `spiketime.train` both a package
and a function, and bad input raising UserError (a ValueError), never SystemExit.

docs/api.md's worked examples (tests/test_api_docs.py) show the functions working.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import spiketime
from spiketime.errors import UserError


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_import_spiketime_imports_no_torch():
    done = python("import sys, spiketime, spiketime.train, spiketime.export\n"
                  "print(spiketime.__version__, 'torch' in sys.modules)\n"
                  "print(callable(spiketime.train), callable(spiketime.export))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [spiketime.__version__, "False", "True", "True"]


@pytest.mark.parametrize("first", ["import", "call"])
def test_train_and_export_are_packages_and_functions_in_one_process(first, tmp_path):
    """Either order: `import spiketime.train.model` and `spiketime.train(...)` both work,
    and the call reaches spiketime.api.train (its own error for an unknown option)."""
    importing = ("import spiketime.train.model, spiketime.export.netx\n"
                 "assert spiketime.train.model.SpikingNet and spiketime.export.netx.read_netx\n")
    calling = (f"import spiketime\n"
               f"try:\n    spiketime.train({str(tmp_path / 'd.h5')!r}, 'out', nonsense=1)\n"
               f"except ValueError as e:\n    print('train:', e)\n"
               f"try:\n    spiketime.export({str(tmp_path / 'none.pt')!r}, 'x.net')\n"
               f"except ValueError as e:\n    print('export:', e)\n")
    code = importing + calling if first == "import" else calling + importing
    code += ("from spiketime import train, export\nimport spiketime.api\n"
             "assert train is spiketime.train and export is spiketime.export\n"
             "assert spiketime.api.train is not train\n")
    done = python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("train: unknown train option 'nonsense'"), lines
    assert lines[1] == f"export: checkpoint not found: {tmp_path / 'none.pt'}", lines


def test_the_api_names_are_lazy_attributes():
    assert {"load_dataset", "compare", "testing", "train"} <= set(dir(spiketime))
    assert spiketime.compare is spiketime.api.compare
    assert spiketime.testing.assert_parity
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        spiketime.nope  # noqa: B018


def test_user_error_is_a_value_error():
    assert issubclass(UserError, ValueError)


@pytest.mark.parametrize("call, words", [
    (lambda d: spiketime.load_dataset(d / "missing.h5"), "missing.h5 does not exist"),
    (lambda d: spiketime.load_model(d), "is a folder"),
    (lambda d: spiketime.train(d / "missing.h5", d / "run"), "does not exist"),
    (lambda d: spiketime.train(d / "missing.h5", d / "run", epochz=3), "unknown train option"),
    (lambda d: spiketime.export(d / "missing.pt", d / "x.net"), "not found"),
    (lambda d: spiketime.run(d / "missing.net", np.zeros((1, 2, 3))), "not found"),
    (lambda d: spiketime.compare(netx=d / "x.net"), "compare needs model, data"),
    (lambda d: spiketime.compare(model=3, netx=d / "x.net", data=d / "d.h5"), "not found"),
])
def test_bad_input_raises_user_error_not_system_exit(call, words, tmp_path, capsys):
    with pytest.raises(UserError, match=words):
        call(tmp_path)
    assert capsys.readouterr().out == ""


def test_compare_refuses_an_unknown_option_and_a_bad_model(trained_delay_net, tmp_path):
    from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset

    X = (np.random.default_rng(0).random((8, 12, 20)) < 0.2).astype(np.uint8)
    meta = DatasetMeta(task="test", variant="none", dt_ms=1.0, class_names=("a", "b", "c"))
    save_dataset(Dataset(Split(X, np.arange(8) % 3), Split(X, np.arange(8) % 3), meta),
                 tmp_path / "d.h5")
    netx = trained_delay_net["path"]
    with pytest.raises(UserError, match="unknown compare option 'tolerance'"):
        spiketime.compare(model=trained_delay_net["model"], netx=netx, data=tmp_path / "d.h5",
                          tolerance=2)
    with pytest.raises(UserError, match="must be a checkpoint path, a torch.nn.Module"):
        spiketime.compare(model=3, netx=netx, data=tmp_path / "d.h5")
    with pytest.raises(UserError, match="jitter levels must be finite"):
        spiketime.compare(model=trained_delay_net["model"], netx=netx, data=tmp_path / "d.h5",
                          jitter=(-1,))


def test_progress_bars_follow_the_callers_choice_for_the_call_only(monkeypatch):
    from spiketime.progress import bars, progress, shown
    from spiketime.train.distributed import Comm
    from spiketime.train.trainer import _bar

    monkeypatch.setenv("CI", "1")  # the rule alone: quiet
    assert not shown()
    with bars(True):
        assert shown() and not progress(range(2), "x").disable
        assert not _bar("train", 10, 0, Comm()).disable
        with bars(False):
            assert not shown() and _bar("train", 10, 0, Comm()).disable
        assert shown()
    assert not shown() and progress(range(2), "x").disable


def test_compare_takes_a_nir_graph_as_a_file_or_in_memory(trained_delay_net, tmp_path):
    """The trained side as NIR: a .nir path, or the nir.NIRGraph object itself; both judged
    by the statistics alone (exact=False) with the per-layer table, saved with the report."""
    import nir

    from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset

    X = (np.random.default_rng(1).random((16, 12, 60)) < 0.15).astype(np.uint8)
    meta = DatasetMeta(task="test", variant="none", dt_ms=1.0, class_names=("a", "b", "c"))
    y = np.arange(16) % 3
    save_dataset(Dataset(Split(X, y), Split(X, y), meta), tmp_path / "d.h5")
    graph_file = spiketime.export(trained_delay_net["path"], tmp_path / "m.nir", format="nir",
                                  dt_ms=1.0)
    sources = {}
    for model in (graph_file, nir.read(graph_file)):
        report = spiketime.compare(model=model, netx=trained_delay_net["path"],
                                   data=tmp_path / "d.h5", jitter=(), neuron_jitter=(),
                                   deletion=(), resamples=100, allow_degenerate=True)
        assert not report.config.exact and [r.backend for r in report.rows] == ["emulator"] * 2
        assert len(report.layers) == 3
        saved = report.save(tmp_path / type(model).__name__)
        assert (saved.parent / "layers.md").is_file()
        written = json.loads((saved.parent / "report.json").read_text())
        sources[type(model).__name__] = written["models"][0]["checkpoint"]
    assert sources["NIRGraph"] == "NIR graph in memory (float reference)"
    assert sources["PosixPath"] == "NIR ../m.nir (float reference)"  # relative to the folder


def test_train_takes_the_commands_options_with_its_defaults():
    """spiketime.train(...) and `spiketime train` share options and defaults: every option
    of the command but the CLI's own is a keyword of the function, with the same default."""
    from spiketime.api import train_options
    from spiketime.cli import build_parser
    from spiketime.train.config import ModelConfig, default

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    command = sub.parse_args(["--data", "d.h5", "--out", "o"])
    from dataclasses import fields

    from spiketime.commands.train import RECIPE_OPTIONS
    from spiketime.train.config import TrainConfig

    cli_only = {"data", "out", "func", "threads", "val_fraction_default",  # threads: torch's
                "hidden_default"}
    options = train_options()
    for dest, value in vars(command).items():
        if dest in cli_only:
            continue
        assert dest in options, dest
        if dest in RECIPE_OPTIONS:  # left unset for the recipe; base's is the job's default
            config = next(c for c in (ModelConfig, TrainConfig)
                          if dest in {f.name for f in fields(c)})
            base = command.hidden_default if dest == "hidden" else default(config, dest)
            assert value is None and options[dest] == base, dest
        elif dest == "delays":  # --delays none|hidden|synapses: two booleans in the API
            assert (value, options["delays"], options["synaptic_delays"]) == ("none", False,
                                                                              False)
        elif dest == "val_fraction":  # None: the command's default, val_fraction_default
            assert options[dest] == command.val_fraction_default
        elif value is None:  # None: the config's own default (the decays)
            assert options[dest] == default(ModelConfig, dest), dest
        else:
            assert options[dest] == value, dest
