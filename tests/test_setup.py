"""make setup's Lava fixes are in place and idempotent."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fix_lava", ROOT / "scripts" / "fix_lava.py")
fix_lava = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fix_lava)


def test_netx_and_lava_process_import():
    code = "import lava.magma.core.process, lava.lib.dl.netx, lava.lib.dl.slayer; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_fixes_are_applied_and_a_second_run_changes_nothing():
    site = Path(sysconfig.get_paths()["purelib"])
    assert "ByteEncoder = ByteEncoder()" not in (site / fix_lava.VAR_MODEL).read_text()
    assert fix_lava.apply(site) == []


def test_fixes_patch_the_original_text():
    original = ("from dataclasses import dataclass, InitVar\n"
                "class CoreEncoder:\n    x: ByteEncoder = ByteEncoder()\n")
    fixed = fix_lava.fix_var_model(original)
    assert "field(default_factory=ByteEncoder)" in fixed and "InitVar, field" in fixed
    assert fix_lava.fix_var_model(fixed) == fixed
    init = "from . import utils\nfrom . import object_detection as obd\n"
    once = fix_lava.fix_slayer_init(init)
    assert "except ImportError" in once and fix_lava.fix_slayer_init(once) == once
