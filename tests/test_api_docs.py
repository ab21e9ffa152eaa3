"""docs/api.md's worked examples run as written, in order, in one folder.

Every ```python block of the page is executed in one namespace. The examples' own
`print` goes to a list, so anything on stdout came from spiketime itself: the API
must print nothing there (and draw no progress bar) unless asked.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_every_api_function_has_an_example():
    text = "\n".join(blocks())
    for name in ("load_dataset", "load_model", "train", "export", "run", "compare",
                 "assert_parity", ".save("):
        assert f"{name}(" in text or name in text, name


def test_the_examples_run_and_print_nothing_of_their_own(tmp_path, monkeypatch, capsys):
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    printed: list[str] = []
    namespace = {"print": lambda *a, **k: printed.append(" ".join(map(str, a)))}
    for i, code in enumerate(blocks()):
        try:
            exec(compile(code, f"docs/api.md block {i}", "exec"), namespace)
        except Exception as exc:  # name the block, keep the traceback
            pytest.fail(f"docs/api.md block {i} raised {type(exc).__name__}: {exc}\n{code}")
    out, err = capsys.readouterr()
    assert out == "", out  # the API printed nothing on stdout
    assert "\r" not in err  # and drew no progress bar
    report = namespace["report"]
    assert report.verdict == "PASSED" and report.passed and report.reasons == ()
    assert (tmp_path / "parity" / "report.json").is_file()
    assert any(line.startswith("unknown train option 'hiden'") for line in printed), printed
    failure = namespace["message"]
    assert failure.startswith("parity FAILED") and "/original/emulator: " in failure
    for name in ("model.net", "in_memory.net", "model.nir", "run/best.pt", "run/curve.png"):
        assert (tmp_path / name).is_file(), name
