"""Where data/cochlea.py's measured constants come from: lauscher 1.0.1, measured.

    .venv/bin/python scripts/cochlea_calibrate.py [--skip-bushy]

Needs the bench extra (`pip install -e .[bench]`). Prints:
1. Basilar membrane: lauscher's velocity transfer |V(f, c)| (its BasilarMembrane model,
   Sieroka et al. 2006) on a log-frequency grid for every 10th channel: the peak
   frequency (CF) and peak gain every 50 channels (_KNOT_CF_HZ, _KNOT_GAIN), the median
   response shape in octaves from CF (_SHAPE_DB), the median phase relative to CF's on
   the same grid (_SHAPE_PHASE) and the group delay at CF in periods.
2. Nerve + bushy cell: output rate for fibres firing at constant rates, lauscher's
   BushyCell (40 Bernoulli fibres with 1 ms dead time, Euler LIF at fs/2 = 11,025 Hz, the
   rate espeak-ng's 22,050 Hz audio gives) next to ours (`bushy_rate`, 2 kHz steps, and
   1 kHz steps for the envelope channels). Our `weight`, `refractory_s` and `nerve_noise`
   (and their `envelope_` twins) were chosen by hand from a small grid to
   bring the two curves together (lauscher's Euler steps make larger PSPs than the exact
   integration, and its 8-11 samples per ms sharpen the threshold). Then the same for
   fibres pulsed like voiced speech (2 ms in every 10 ms), which was not fitted.
3. Stage checks on tones at 22,050 Hz: the basilar membrane's output amplitude and its
   peak channel, lauscher's (its BasilarMembrane on the samples) beside ours
   (`membrane` without the taper); and the hair cell's firing rate h c driven by a
   sinusoidal velocity, lauscher's HairCell beside ours (first 20 ms, last 100 ms).
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from spiketime.data.cochlea import (
    _KNOT_CHANNELS,
    _SHAPE_OCT,
    CochleaConfig,
    CochleaEncoder,
    _HairCell,
    bushy_rate,
)

RATES_HZ = (65, 80, 100, 130, 200, 400)
N_LOCKED_EXAMPLE = 600  # a phase-locked channel (CF 221 Hz)
PULSES = ((65, 200), (80, 300), (80, 600))  # fibre rate between and during pulses (Hz)


def basilar_membrane() -> None:
    from lauscher.transformations.basilar_membrane import BasilarMembrane

    bm = BasilarMembrane()
    f = np.geomspace(10, 40000, 3000)
    cf, gain, delay, shapes, phases = {}, {}, {}, [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ch in sorted(set(range(0, 700, 10)) | set(_KNOT_CHANNELS)):
            v = bm._v(2 * np.pi * f, bm.ch[ch])
            mag = np.abs(v)
            k = int(np.nanargmax(mag))
            cf[ch], gain[ch] = f[k], mag[k]
            phase = np.unwrap(np.angle(v))
            delay[ch] = -np.gradient(phase, 2 * np.pi * f)[k] * f[k]  # periods of CF
            if ch % 10 == 0 and ch >= 100:  # the base's first channels peak at the edge
                shapes.append(np.interp(_SHAPE_OCT, np.log2(f / f[k]),
                                        20 * np.log10(mag / mag[k]), left=np.nan,
                                        right=np.nan))
                ok = np.isfinite(phase)
                phases.append(np.interp(_SHAPE_OCT, np.log2(f[ok] / f[k]),
                                        phase[ok] - phase[k], left=np.nan, right=np.nan))
    print("_KNOT_CF_HZ =", tuple(int(round(cf[c])) for c in _KNOT_CHANNELS))
    print("_KNOT_GAIN =", tuple(round(float(gain[c]), 1) for c in _KNOT_CHANNELS))
    print("_SHAPE_DB =", tuple(np.round(np.nanmedian(np.array(shapes), axis=0), 1).tolist()))
    print("_SHAPE_PHASE =",
          tuple(np.round(np.nanmedian(np.array(phases), axis=0), 2).tolist()))
    print("group delay at CF, periods (negative: the output leads the input):",
          {c: round(float(delay[c]), 2) for c in _KNOT_CHANNELS})


def bushy_transfer(seconds: float = 2.0, fs: int = 11025) -> None:
    from lauscher.firing_probability import FiringProbability
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.bushy_cell import BushyCell

    CommandLineArguments().num_concurrent_jobs = 1
    n = int(fs * seconds)
    np.random.seed(0)
    probability = np.array([np.full(n, r / fs) for r in RATES_HZ])
    spikes = FiringProbability(probability, fs).transform(BushyCell())
    theirs = np.bincount(np.asarray(spikes.spike_labels).astype(int),
                         minlength=len(RATES_HZ)) / seconds
    config = CochleaConfig()
    slow = config.envelope()  # the envelope channels' stages 3-5 (1 kHz, own constants)
    print(f"lauscher's steps at {fs} Hz (audio at {2 * fs} Hz); ours at 2 kHz "
          f"(phase-locked channels) and {slow.rate_hz:g} Hz (envelope channels)")
    print(f"{'fibre rate (Hz)':>16} {'lauscher (Hz)':>14} {'ours (Hz)':>10} {'ours slow':>10}")
    for rate, their in zip(RATES_HZ, theirs):
        print(f"{rate:>16} {their:>14.1f} {bushy_rate(config, rate, seconds=seconds):>10.1f} "
              f"{bushy_rate(slow, rate, seconds=seconds):>10.1f}")
    # pulsed, like voiced speech: 2 ms at `peak` every 10 ms, `base` between
    t = np.arange(n) / fs
    pulsed = [np.where(t % 0.01 < 0.002, peak, base) for base, peak in PULSES]
    spikes = FiringProbability(np.array(pulsed) / fs, fs).transform(BushyCell())
    theirs = np.bincount(np.asarray(spikes.spike_labels).astype(int),
                         minlength=len(PULSES)) / seconds
    print("fibres pulsed 2 ms in 10 ms (Hz)  lauscher (Hz)  ours (Hz)  ours slow")
    for (base, peak), their in zip(PULSES, theirs):
        ours = [bushy_rate(c, base, seconds=seconds, pulse=(peak, 0.002, 0.01))
                for c in (config, slow)]
        print(f"{f'{base} -> {peak}':>32} {their:>14.1f} {ours[0]:>10.1f} {ours[1]:>10.1f}")


def check_stages(fs: int = 22050, seconds: float = 0.2) -> None:
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.basilar_membrane import BasilarMembrane
    from lauscher.transformations.hair_cell import HairCell

    CommandLineArguments().num_concurrent_jobs = 1
    t = np.arange(int(fs * seconds)) / fs
    encoder = CochleaEncoder(CochleaConfig(taper=False))
    print("tone (Hz)  lauscher: peak channel, amplitude  ours: peak channel, amplitude")
    for freq in (300, 1000, 2000, 3000, 5000):
        x = 0.3 * np.sqrt(2) * np.sin(2 * np.pi * freq * t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = np.array(MonoAudioWave(x.copy(), fs).transform(BasilarMembrane()).channels)
        theirs = np.sqrt(2 * np.mean(theirs[:, 300:-300] ** 2, axis=1))  # away from the ends
        drive, skip = encoder.membrane(x, fs), 100 // encoder.envelope_factor
        ours = np.r_[drive.envelope[:, skip:-skip].max(axis=1),
                     np.abs(drive.velocity[:, 100:-100]).max(axis=1)]
        print(f"{freq:>9}  {theirs.argmax():>14} {theirs.max():>18.1f}  "
              f"{ours.argmax():>10} {ours.max():>18.1f}")
    hair = HairCell()
    print("velocity (Hz, amplitude)  lauscher h c (Hz): first 20 ms, last 100 ms  ours")
    steps = int(seconds * encoder.config.rate_hz)
    for freq in (300, 2000):
        for amp in (20.0, 50.0, 100.0):
            theirs = hair._meddis(amp * np.sin(2 * np.pi * freq * t), fs) * fs
            column = N_LOCKED_EXAMPLE if freq <= encoder.config.lock_hz else 300
            tt = np.arange(steps) / encoder.config.rate_hz
            drive = np.zeros((steps, 700), np.float32)
            drive[:, column] = amp * np.sin(2 * np.pi * freq * tt) \
                if column >= encoder.first_locked else amp
            index = encoder._grid_index(drive)
            cell = _HairCell(encoder, 700)
            scale = encoder.config.rate_hz / encoder.config.fibres
            ours = cell.run(index)[:, column] * scale
            print(f"{freq:>9} {amp:>5.0f}  {theirs[:int(0.02 * fs)].mean():>22.0f} "
                  f"{theirs[-int(0.1 * fs):].mean():>14.0f}  "
                  f"{ours[:int(0.02 * encoder.config.rate_hz)].mean():>6.0f} "
                  f"{ours[-int(0.1 * encoder.config.rate_hz):].mean():>6.0f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--skip-bushy", action="store_true")
    p.add_argument("--skip-stages", action="store_true")
    args = p.parse_args(argv)
    basilar_membrane()
    if not args.skip_bushy:
        bushy_transfer()
        bushy_transfer(fs=8000)  # 16 kHz audio: lauscher's cell is more excitable there
    if not args.skip_stages:
        check_stages()
    return 0


if __name__ == "__main__":
    sys.exit(main())
