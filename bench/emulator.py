"""Per sample-step time of Lava (its own DelayDense and the fast one), the emulator and slayer.

    .venv/bin/python bench/emulator.py [--json] [--shd-samples N] [--batch N] [--repeats N]

Two networks, built as slayer SpikingNets with delays and exported to NetX:
(a) pipeline-like 20 -> 32 (delays) -> 2, T = 100 (to be aligned with the
pipeline's default network); (b) SHD-size 700 -> 128 -> 128
-> 20 (delays after both hidden layers), T = 250, inputs at 5% spike density.

Lava (LavaCpuBackend, output only) is timed on runs of 1 and a few samples
after a warm-up, each the fastest of a few; the per-sample-step figure is the
slope (T steps plus the reset between samples), so its start-up is left out. The
emulator and slayer are timed on whole batches (the faster of two runs): the emulator
as a whole `run` call on a fresh backend (file read, validated, compiled, input
checked), and again on a backend that already holds the file's compiled network
(`emulator_repeat_*`: a harness running one model under many conditions). Every Lava run's
output spikes are compared with the emulator's, and slayer's output and hidden spikes with
the emulator's: "exact" is true only if all are equal (tests/ compare hidden layers, u and
v). shd_testset_seconds is the emulator's measured wall time on 2,264 samples x 250 steps
of network (b) (fewer samples with --shd-samples, scaled up, and then it says so).
The dense forward floor, in the same run: the network's matrix products alone
(time-major float32, torch, forward only, the same batch), the faster of two runs
after a warm-up; `emulator_ratio_to_floor` is the emulator's time over it, and the
load average is printed beside each figure. Not part of the test run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.sim.emulator import EmulatorBackend
from spiketime.sim.lava_cpu import LavaCpuBackend, default_run_cfg, fast_run_cfg
from spiketime.train.model import ModelConfig, SpikingNet

SHD_TEST_SAMPLES = 2264
DENSITY = 0.05


@dataclass(frozen=True)
class Case:
    name: str
    config: ModelConfig
    steps: int
    lava_samples: int  # samples in the longer Lava run


CASES = (
    Case("a: 20-32-2, T=100", ModelConfig(inputs=20, hidden=(32,), outputs=2, delays=True,
                                          delay_init_max=30, weight_scale=2.0, seed=0), 100, 4),
    Case("b: 700-128-128-20, T=250",
         ModelConfig(inputs=700, hidden=(128, 128), outputs=20, delays=True, delay_init_max=30,
                     weight_scale=1.0, seed=0), 250, 2),
)


def spikes(rng: np.random.Generator, n: int, channels: int, steps: int) -> np.ndarray:
    return (rng.random((n, channels, steps)) < DENSITY).astype(np.uint8)


def time_lava(path: Path, X: np.ndarray, run_cfg, emulator: EmulatorBackend,
              repeats: int) -> tuple[float, float, bool]:
    """(seconds per sample-step, start-up seconds, outputs equal to the emulator's).

    Runs of 1 and len(X) samples after a warm-up run, each the fastest of
    `repeats` (one run when it takes over 10 s); the per-sample-step figure is the
    slope between them: T steps plus the state reset between samples."""
    backend = LavaCpuBackend(run_cfg=run_cfg)
    backend.run(path, X[:1, :, :2])  # warm-up: imports and first compilation
    expected = emulator.run(path, X).output
    times, exact = [], True
    for n in (1, len(X)):
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            out = backend.run(path, X[:n]).output
            best = min(best, time.perf_counter() - start)
            exact &= np.array_equal(out, expected[:n])
            if best > 10:
                break
        times.append(best)
    steps = X.shape[2]
    per_step = (times[1] - times[0]) / ((len(X) - 1) * steps)
    return per_step, times[0] - per_step * steps, exact


def best_of(runs: int, fn):
    """(fastest wall time of `runs` calls, the last result)."""
    best, result = np.inf, None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def dense_floor(config: ModelConfig, X: np.ndarray) -> float:
    """Seconds of the network's matrix products alone on X, forward only."""
    sizes = (config.inputs, *config.hidden, config.outputs)
    weights = [torch.randn(n_out, n_in) for n_in, n_out in zip(sizes, sizes[1:])]
    x = torch.as_tensor(X, dtype=torch.float32).transpose(1, 2).reshape(-1, sizes[0]).contiguous()

    def forward():
        with torch.no_grad():
            h = x
            for w in weights:
                h = torch.nn.functional.linear(h, w)

    forward()  # warm-up
    return best_of(2, forward)[0]


def slayer_forward(model: SpikingNet, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    with torch.no_grad():
        out, hidden = model(torch.as_tensor(X, dtype=torch.float32), hidden=True)
    return out.numpy().astype(np.uint8), [h.numpy().astype(np.uint8) for h in hidden]


def bench_case(case: Case, tmp: Path, batch: int, repeats: int, rng: np.random.Generator) -> dict:
    model = SpikingNet(case.config).eval()
    path = write_netx(to_netx(model), tmp / f"{case.config.inputs}.net")
    emulator = EmulatorBackend()
    X = spikes(rng, batch, case.config.inputs, case.steps)
    emulator.run(path, X[:2])  # warm-up: numba's cache, imports
    floor_s = dense_floor(case.config, X)
    floor_load = os.getloadavg()[0]
    # a fresh backend per call: the file read, validated and compiled each time
    emu_s, emu = best_of(2, lambda: EmulatorBackend().run(path, X, hidden=True))
    emu_load = os.getloadavg()[0]
    emulator.run(path, X[:2])  # this backend now holds the file's compiled network
    repeat_s, repeat = best_of(2, lambda: emulator.run(path, X, hidden=True))
    repeat_load = os.getloadavg()[0]
    repeat_exact = np.array_equal(repeat.output, emu.output) and all(
        np.array_equal(h, e) for h, e in zip(repeat.hidden, emu.hidden))
    slayer_s, (out, hidden) = best_of(2, lambda: slayer_forward(model, X))
    slayer_exact = np.array_equal(out, emu.output) and all(
        np.array_equal(h, e) for h, e in zip(hidden, emu.hidden))
    X_lava = spikes(rng, case.lava_samples, case.config.inputs, case.steps)
    lava_default, start_default, exact_default = time_lava(path, X_lava, default_run_cfg,
                                                           emulator, repeats)
    lava_fast, start_fast, exact_fast = time_lava(path, X_lava, fast_run_cfg, emulator, repeats)
    per = lambda seconds: seconds / (batch * case.steps)  # noqa: E731
    return {
        "network": case.name,
        "lava_us_per_sample_step": round(lava_default * 1e6, 2),
        "lava_fast_us_per_sample_step": round(lava_fast * 1e6, 2),
        "emulator_us_per_sample_step": round(per(emu_s) * 1e6, 4),
        "dense_forward_floor_us_per_sample_step": round(per(floor_s) * 1e6, 4),
        "emulator_ratio_to_floor": round(emu_s / floor_s, 2),
        "emulator_repeat_us_per_sample_step": round(per(repeat_s) * 1e6, 4),
        "emulator_repeat_ratio_to_floor": round(repeat_s / floor_s, 2),
        "load_avg": {"floor": round(floor_load, 2), "emulator": round(emu_load, 2),
                     "emulator_repeat": round(repeat_load, 2)},
        "slayer_us_per_sample_step": round(per(slayer_s) * 1e6, 4),
        "lava_startup_s": round(float(np.mean([start_default, start_fast])), 2),
        "speedup_emulator_vs_lava": round(lava_default / per(emu_s), 1),
        "speedup_emulator_vs_lava_fast": round(lava_fast / per(emu_s), 1),
        "speedup_lava_fast_vs_lava": round(lava_default / lava_fast, 2),
        "speedup_emulator_vs_slayer": round(per(slayer_s) / per(emu_s), 2),
        "exact_lava": bool(exact_default), "exact_lava_fast": bool(exact_fast),
        "exact_slayer": bool(slayer_exact),
        "exact_repeat": bool(repeat_exact),
        "hidden_rates": [round(float(h.mean()), 4) for h in emu.hidden],
        "output_rate": round(float(emu.output.mean()), 4),
        "lava_runs": f"1 and {case.lava_samples} samples x {case.steps} steps, "
                     f"best of <= {repeats}",
        "batch": batch,
    }


def shd_testset(tmp: Path, samples: int, rng: np.random.Generator) -> tuple[float, str]:
    case = CASES[1]
    path = write_netx(to_netx(SpikingNet(case.config).eval()), tmp / "shd.net")
    X = spikes(rng, samples, case.config.inputs, case.steps)
    start = time.perf_counter()
    EmulatorBackend().run(path, X)
    seconds = time.perf_counter() - start
    if samples == SHD_TEST_SAMPLES:
        return seconds, f"measured: {samples} samples x {case.steps} steps"
    how = f"scaled from {samples} samples x {case.steps} steps"
    return seconds * SHD_TEST_SAMPLES / samples, how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--shd-samples", type=int, default=SHD_TEST_SAMPLES)
    parser.add_argument("--repeats", type=int, default=2,
                        help="Lava runs per size; the fastest counts")
    parser.add_argument("--batch", type=int, default=256,
                        help="samples for the emulator and slayer timing")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_case(c, Path(tmp), args.batch, args.repeats, rng) for c in CASES]
        shd_seconds, shd_how = shd_testset(Path(tmp), args.shd_samples, rng)
    exact = all(r[k] for r in rows
                for k in ("exact_lava", "exact_lava_fast", "exact_slayer", "exact_repeat"))
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "load_avg": list(os.getloadavg()),
               "date": date}
    if args.json:
        print(json.dumps({"speedup_vs_lava": rows[1]["speedup_emulator_vs_lava"], "exact": exact,
                          "shd_testset_seconds": round(shd_seconds, 2), "shd_testset": shd_how,
                          "networks": rows, "machine": machine}))
        return
    for r in rows:
        print(f"network {r['network']}  (hidden rates {r['hidden_rates']}, "
              f"output {r['output_rate']})")
        print(f"  per sample-step: Lava {r['lava_us_per_sample_step']:.0f} us, "
              f"Lava fast DelayDense {r['lava_fast_us_per_sample_step']:.0f} us, "
              f"emulator {r['emulator_us_per_sample_step']:.3f} us, "
              f"slayer {r['slayer_us_per_sample_step']:.3f} us; dense forward floor "
              f"{r['dense_forward_floor_us_per_sample_step']:.3f} us (emulator "
              f"{r['emulator_ratio_to_floor']:.2f}x the floor; load {r['load_avg']})")
        print(f"  emulator again on the same backend (the file's network kept): "
              f"{r['emulator_repeat_us_per_sample_step']:.3f} us, "
              f"{r['emulator_repeat_ratio_to_floor']:.2f}x the floor")
        print(f"  emulator vs Lava {r['speedup_emulator_vs_lava']:.0f}x, vs Lava fast "
              f"{r['speedup_emulator_vs_lava_fast']:.0f}x, "
              f"vs slayer {r['speedup_emulator_vs_slayer']:.1f}x; "
              f"Lava fast vs Lava {r['speedup_lava_fast_vs_lava']:.1f}x; "
              f"exact: Lava {r['exact_lava']}, Lava fast {r['exact_lava_fast']}, "
              f"slayer {r['exact_slayer']}, repeat call {r['exact_repeat']}")
    print(f"SHD-size test set on the emulator: {shd_seconds:.1f} s ({shd_how}); "
          f"machine {machine['cores']} cores, load average {machine['load_avg'][0]:.1f}")
    print(f"bit-exact: {exact}; {date}")


if __name__ == "__main__":
    main()
