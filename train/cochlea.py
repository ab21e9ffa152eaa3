"""Audio -> 700-channel spike trains, the stages of SHD's encoder (Cramer et al. 2020,
the `lauscher` package) computed at a 2 kHz envelope rate so that numpy does it fast.

The chain, per utterance (mono samples at any rate):
  1. level: scaled to RMS 0.3 and tapered by a Hann window over its whole length, as
     lauscher does before its basilar membrane.
  2. basilar membrane: 700 band-pass channels over SHD's range (channel 0 = 22.5 kHz at
     the base .. channel 699 = 100 Hz at the apex). Each channel's magnitude response is
     lauscher's (Sieroka et al. 2006 shallow-water model), measured from lauscher 1.0.1 by
     scripts/cochlea_calibrate.py: characteristic frequency (CF) and peak gain tabulated
     every 50 channels, one shape in octaves from CF (the model is nearly scale-invariant:
     about 9 dB/octave below CF, a cliff above it), and its phase, also one curve in
     octaves from CF: lauscher's output *leads* the sound (by about 3 periods of CF near
     CF, 30 ms at 100 Hz; a cochlea delays), and `delay_cycles` (default 0) adds a pure
     delay in periods of CF on top. The filter is applied in the frequency
     domain and each channel is returned as its complex envelope at `rate_hz` (2 kHz):
     only bins within rate_hz/2 of CF are kept, shifted to 0 Hz, inverse-FFT'd; the
     power of the response's low-frequency tail below that window (quarter-octave
     bands, weighted by the channel's gain there) is added to the envelope's. Channels
     with CF <= `lock_hz` (500 Hz, channels 493-699) are shifted back to their carrier:
     their signed membrane velocity, four or more samples per cycle, so hair cells and
     bushy cells follow its cycles (phase locking, which doubles or triples their
     output in lauscher at these frequencies). The others keep the envelope's magnitude.
  3. inner hair cell: Meddis (1986, 1988) transmitter pools with lauscher's parameters.
     The release permeability k(s) = g (s + a) / (s + a + b) is taken at the velocity in
     phase-locked channels and averaged over one cycle of a sinusoid of the envelope's
     amplitude in the others (a table, exact for a tone); the cleft is taken at its
     quasi-steady value (its time constant, 0.11 ms, is below one step) and the free and
     reprocessing pools are integrated exactly over each step.
  4. auditory nerve: `fibres` (40) fibres per channel firing at the hair cell's rate h*c
     with a 1 ms dead time; their summed count per step is drawn as a gamma variable of
     the renewal process's mean and variance (Wilson-Hilferty cube of a normal deviate,
     seeded per utterance): the bushy cell fires on the count's upper tail.
  5. bushy cell: one leaky integrate-and-fire neuron per channel with lauscher's
     synaptic (0.5 ms) and membrane (1 ms) time constants and threshold 1, integrated
     exactly over each step, reset to 0 and held for a refractory period.
     Three constants of stages 4-5 (`weight`, `refractory_s`, `nerve_noise`) are fitted
     so that the output rate for fibres at constant rates matches lauscher's bushy cell
     (40 Bernoulli fibres, Euler steps at fs/2) within about 20% from 1.5 to 550 Hz
     (scripts/cochlea_calibrate.py prints both curves).
Spikes are reported at the centre of their step (seconds, float). Utterances are
independent: a file's spikes depend on its samples, the seed and its index only, never on
which other files are encoded with it. Differences from lauscher are measured in
docs/speech.md.
"""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.io import wavfile

from spiketime.errors import UserError
from spiketime.train.speech import N_UNITS

# --- basilar membrane, measured from lauscher 1.0.1 by scripts/cochlea_calibrate.py -------
_KNOT_CHANNELS = (0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600, 650, 699)
_KNOT_CF_HZ = (22503, 14062, 9548, 6537, 4475, 3081, 2115, 1456, 1002, 688, 472, 324, 221, 150,
               100)
_KNOT_GAIN = (266.3, 75.9, 75.7, 84.9, 98.6, 115.4, 134.0, 152.9, 170.4, 185.0, 196.3, 204.7,
              211.0, 216.6, 222.9)
# magnitude in dB relative to the peak, at octaves from CF: 0.25 steps to -4, then 0.125
_SHAPE_OCT = np.r_[np.arange(-7.0, -4.0, 0.25), np.arange(-4.0, 1.0001, 0.125)]
_SHAPE_DB = (-62.8, -60.6, -58.3, -56.0, -53.8, -51.6, -49.4, -47.2, -45.0, -42.8, -40.6, -38.4,
             -36.3, -35.2, -34.1, -33.0, -31.9, -30.9, -29.7, -28.6, -27.4, -26.3, -25.1, -24.0,
             -22.9, -21.7, -20.6, -19.5, -18.4, -17.2, -16.1, -15.0, -13.9, -12.8, -11.6, -10.5,
             -9.3, -8.2, -7.0, -5.8, -4.5, -3.3, -2.0, -0.7, 0.0, -3.0, -18.0, -35.0, -49.1,
             -61.2, -72.2, -82.2, -91.6)
# phase in radians relative to CF's, same grid (numpy's FFT sign: lauscher's output leads)
_SHAPE_PHASE = (-8.08, -8.26, -8.37, -8.45, -8.52, -8.65, -8.72, -8.79, -8.88, -8.92, -8.95,
                -8.96, -9.0, -8.99, -8.98, -8.96, -8.94, -8.91, -8.86, -8.79, -8.72, -8.64, -8.56,
                -8.46, -8.36, -8.24, -8.12, -7.98, -7.83, -7.66, -7.48, -7.27, -7.05, -6.8, -6.52,
                -6.21, -5.86, -5.47, -5.02, -4.52, -3.93, -3.24, -2.42, -1.39, 0.0, 2.03, 3.91,
                4.65, 4.95, 5.08, 5.13, 5.15, 5.13)
_PAD_S = 0.1      # silence appended before the FFT: a delayed response must not wrap around
_GRID_S = 0.25    # padded lengths are multiples of this, so filter tables are reused
_CACHE = 6        # filter tables kept (per sample rate and padded length)
_KBAR_ROOT_MAX = 100.0  # release table up to an envelope of 1e4 (saturated long before)
_KBAR_POINTS = 4001
_SHAPE_PER_OCTAVE = 128  # resolution of the resampled shape table
_TAIL_LOW_HZ, _TAIL_TOP_HZ = 40.0, 8000.0  # quarter-octave bands for the low tail
_NOISE_BLOCK = 256  # nerve noise drawn this many steps at a time


@dataclass(frozen=True)
class CochleaConfig:
    """The encoder's parameters (lauscher's values unless said otherwise)."""
    seed: int = 0
    rms: float = 0.3               # input level after normalisation
    taper: bool = True             # Hann window over the whole utterance (lauscher's)
    rate_hz: float = 2000.0        # envelope / neuron update rate (ours; lauscher: fs / 2)
    delay_cycles: float = 0.0      # extra BM delay, periods of CF, on top of lauscher's phase
    lock_hz: float = 500.0         # channels with CF up to this keep their fine structure
    # Meddis inner hair cell
    ihc_y: float = 5.05
    ihc_g: float = 2000.0
    ihc_l: float = 2500.0
    ihc_r: float = 6580.0
    ihc_x: float = 66.3
    ihc_a: float = 5.0
    ihc_b: float = 300.0
    ihc_h: float = 50000.0
    ihc_m: float = 1.0
    # auditory nerve fibres converging on each bushy cell
    fibres: int = 40
    fibre_refractory_s: float = 1e-3
    nerve_noise: float = 0.75      # scale of the count's deviation from its mean (fitted)
    # bushy cell
    tau_mem_s: float = 1e-3
    tau_syn_s: float = 5e-4
    refractory_s: float = 1.5e-3   # fitted (lauscher: 1e-3)
    weight: float = 17940.0        # summed over the fibres; fitted (lauscher: 13e3)

    def __post_init__(self) -> None:
        positive = {k: v for k, v in asdict(self).items()
                    if k not in ("seed", "taper", "delay_cycles")}
        bad = [k for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise UserError(f"cochlea parameters must be positive numbers: {', '.join(bad)}")
        if not np.isfinite(self.delay_cycles):
            raise UserError(f"delay_cycles must be a finite number, got {self.delay_cycles}")
        if self.rate_hz < 500 or self.rate_hz > 20000:
            raise UserError(f"rate_hz must lie in [500, 20000], got {self.rate_hz:g}")
        if self.lock_hz > self.rate_hz / 4:
            raise UserError(f"lock_hz must be at most rate_hz / 4 = {self.rate_hz / 4:g} "
                            f"(four steps per cycle), got {self.lock_hz:g}")


def channel_cf_hz() -> np.ndarray:
    """Characteristic frequency of each of the 700 channels (Hz, decreasing)."""
    ch = np.arange(N_UNITS)
    return np.exp(np.interp(ch, _KNOT_CHANNELS, np.log(_KNOT_CF_HZ)))


def _channel_gain() -> np.ndarray:
    return np.exp(np.interp(np.arange(N_UNITS), _KNOT_CHANNELS, np.log(_KNOT_GAIN)))


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Samples (float64, full scale 1; channels averaged) and the sample rate."""
    path = Path(path)
    if path.suffix.lower() == ".flac":
        raise UserError(f"{path}: FLAC is not supported; convert it to WAV "
                        f"(e.g. ffmpeg -i {path.name} {path.stem}.wav)")
    try:
        rate, data = wavfile.read(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable WAV file ({exc})") from None
    if data.dtype.kind == "i":
        x = data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    elif data.dtype.kind == "u":
        x = (data.astype(np.float64) - 128.0) / 128.0
    else:
        x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0 or rate <= 0:
        raise UserError(f"{path}: empty audio")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{path}: NaN or infinite samples")
    return x, int(rate)


class CochleaEncoder:
    """Encodes utterances; holds its config, channel tables and a small filter cache."""

    def __init__(self, config: CochleaConfig | None = None):
        self.config = config or CochleaConfig()
        self.cf = channel_cf_hz()
        self.gain = _channel_gain()
        # the shape resampled on a uniform grid, so a filter table is a lookup, not interp
        fine = np.arange(_SHAPE_OCT[0], _SHAPE_OCT[-1] + 1e-9, 1.0 / _SHAPE_PER_OCTAVE)
        self._shape = (10.0 ** (np.interp(fine, _SHAPE_OCT, _SHAPE_DB) / 20.0)) \
            .astype(np.float32)
        self._phase = np.interp(fine, _SHAPE_OCT, _SHAPE_PHASE).astype(np.float32)
        self._filters: OrderedDict[tuple[int, int], tuple[np.ndarray, ...]] = OrderedDict()
        self.first_locked = int(np.argmax(self.cf <= self.config.lock_hz)) \
            if self.cf[-1] <= self.config.lock_hz else N_UNITS  # channels from here on
        self._step, self._k, self._keep_q, self._gain_q = self._tables()

    # -- stage 2: basilar membrane -------------------------------------------------------
    def membrane(self, x: np.ndarray, rate: int) -> np.ndarray:
        """The hair cells' drive [steps, 700] (float32, a transposed view) at `rate_hz`,
        after the level stage; steps = ceil(duration * rate_hz). Channels below
        `first_locked` give the amplitude of their membrane velocity (its envelope); the
        rest (CF <= lock_hz) the signed velocity itself, whose cycles the hair cells and
        bushy cells follow (phase locking)."""
        c = self.config
        x = np.asarray(x, dtype=np.float64)
        rms = np.sqrt(np.mean(x ** 2))
        if not np.isfinite(rms):
            raise UserError("audio contains NaN or infinite samples")
        x = x * (c.rms / rms) if rms > 0 else x
        if c.taper:
            x = x * np.hanning(x.size)
        steps = int(np.ceil(x.size * c.rate_hz / rate))
        # padded length on a coarse grid whose every point is a whole number of steps
        whole = rate // math.gcd(rate, int(c.rate_hz)) if float(c.rate_hz).is_integer() else 1
        grid = whole * max(1, int(round(_GRID_S * rate / whole)))
        n_fft = int(np.ceil((x.size + _PAD_S * rate) / grid) * grid)
        m = int(round(n_fft * c.rate_hz / rate))
        idx, H, carrier, band_idx, band_gain, tail = self._filter(rate, n_fft, m)
        X = np.fft.rfft(x, n_fft).astype(np.complex64)
        X = np.concatenate([X, np.zeros(1, np.complex64)])  # index -1: outside -> 0
        Z = X[idx]
        Z *= H
        Z = scipy.fft.ifft(Z, axis=1, overwrite_x=True)      # complex envelope at 0 Hz
        drive = np.abs(Z)
        lock = self.first_locked
        if lock < N_UNITS:                                   # back to the carrier: velocity
            drive[lock:] = (Z[lock:] * carrier).real
        if tail.shape[1]:  # power below the window (low-frequency tail), band by band
            bands = X[band_idx]
            bands *= band_gain
            power = np.abs(scipy.fft.ifft(bands, axis=1, overwrite_x=True)) ** 2
            reach = tail.shape[0]
            drive[:reach] = np.sqrt(drive[:reach] ** 2 + tail @ power)
        return drive[:, :steps].T  # a transposed view: [steps, 700]

    def _filter(self, rate: int, n_fft: int, m: int
                ) -> tuple[np.ndarray, ...]:
        """(FFT bin per channel and output column, filter gain there, carrier of each
        phase-locked channel per output step, and `_tail_bands`), cached per
        (rate, n_fft)."""
        key = (rate, n_fft)
        if key in self._filters:
            self._filters.move_to_end(key)
            return self._filters[key]
        df = rate / n_fft
        centre = np.rint(self.cf / df).astype(np.int32)
        # column j of the inverse FFT holds offset j from CF (ifftshift order: CF at 0)
        offset = np.fft.ifftshift(np.arange(m, dtype=np.int32) - m // 2)
        k = centre[:, None] + offset[None, :]                # FFT bin per output column
        f = np.maximum(k, 1).astype(np.float32) * np.float32(df)
        octaves = np.log2(f / self.cf[:, None].astype(np.float32))
        pos = np.rint((octaves - np.float32(_SHAPE_OCT[0])) * np.float32(_SHAPE_PER_OCTAVE))
        # outside the spectrum, or above +1 octave (nothing passes): bin -1, gain 0
        inside = (k >= 1) & (k <= n_fft // 2) & (pos <= len(self._shape) - 1)
        pos = np.clip(pos, 0, len(self._shape) - 1).astype(np.int32)
        mag = self._shape.take(pos)
        mag *= (self.gain * 2.0 * m / n_fft).astype(np.float32)[:, None]  # 2: one-sided
        mag *= inside
        delay = (self.config.delay_cycles / self.cf[:, None]).astype(np.float32)
        turn = self._phase.take(pos)
        turn -= offset[None, :].astype(np.float32) * (np.float32(2 * np.pi * df) * delay)
        H = np.empty(k.shape, np.complex64)
        H.real, H.imag = mag * np.cos(turn), mag * np.sin(turn)
        k[~inside] = -1
        steps = np.arange(m) / self.config.rate_hz
        carrier = np.exp(2j * np.pi * (centre[self.first_locked:, None] * df) * steps)
        self._filters[key] = (k, H, carrier.astype(np.complex64),
                              *self._tail_bands(rate, n_fft, m, centre))
        while len(self._filters) > _CACHE:
            self._filters.popitem(last=False)
        return self._filters[key]

    def _tail_bands(self, rate: int, n_fft: int, m: int, centre: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A channel's window keeps bins within rate_hz/2 of CF, but below CF its response
        falls only ~9 dB per octave: a vowel's strong low formants reach channels far
        above them. That tail is added as power: quarter-octave bands up to _TAIL_TOP_HZ
        (their power envelopes at rate_hz), each weighted by a channel's power gain at the
        band's centre when the whole band lies below the channel's window.
        Returns (bins per band in FFT order, their gain, weights [channels, bands])."""
        df = rate / n_fft
        top = min(_TAIL_TOP_HZ, rate / 2)
        edges = _TAIL_LOW_HZ * 2.0 ** (np.arange(0, 64) / 4)
        edges = edges[edges <= top]
        lo, hi = np.ceil(edges[:-1] / df).astype(np.int32), np.ceil(edges[1:] / df)
        mid = ((lo + hi.astype(np.int32)) // 2).astype(np.int32)
        offset = np.fft.ifftshift(np.arange(m, dtype=np.int32) - m // 2)
        band_idx = mid[:, None] + offset[None, :]
        inside = (band_idx >= lo[:, None]) & (band_idx < hi[:, None])
        band_idx[~inside] = -1
        band_gain = (inside * (2.0 * m / n_fft)).astype(np.complex64)
        # channel power gain at each band's centre, for bands wholly below the window
        centre_hz = np.sqrt(edges[:-1] * edges[1:])
        octaves = np.log2(centre_hz[None, :] / self.cf[:, None])
        amp = 10.0 ** (np.interp(octaves, _SHAPE_OCT, _SHAPE_DB) / 20.0) * self.gain[:, None]
        below = edges[1:][None, :] * (1 + 1e-9) <= (centre[:, None] - m // 2) * df
        tail = np.where(below, amp ** 2, 0.0).astype(np.float32)
        reach = int(np.flatnonzero(tail.any(axis=1)).max() + 1) if tail.any() else 0
        return band_idx, band_gain, tail[:reach]

    # -- stage 3: inner hair cell release, averaged over a cycle -------------------------
    def _tables(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The hair cell's per-step coefficients, tabulated on grids even in sqrt(drive)
        (fine where k bends, coarse where it saturates): (grid step, k, q's decay over a
        step, weight of q's inflow over a step). Rows 0.._KBAR_POINTS-1: k = g (s + a) /
        (s + a + b), s >= -a, averaged over a cycle of a sinusoid of amplitude E (the
        envelope channels); the next 2 _KBAR_POINTS - 1 rows: k at the signed velocity s
        itself (the phase-locked channels). q' = y m + x w - (y + k) q is integrated exactly
        over a step."""
        c = self.config
        root = np.linspace(0.0, _KBAR_ROOT_MAX, _KBAR_POINTS)
        s = (root ** 2)[:, None] * np.sin(np.linspace(0, 2 * np.pi, 128, endpoint=False))
        signed = np.r_[-root[:0:-1] ** 2, root ** 2]
        u = np.maximum(np.r_[s.ravel(), signed] + c.ihc_a, 0.0)
        k_all = c.ihc_g * u / (u + c.ihc_b)
        k = np.r_[k_all[:s.size].reshape(s.shape).mean(axis=1), k_all[s.size:]]
        leave = c.ihc_y + k
        keep_q = np.exp(-leave / c.rate_hz)
        return (float(root[1]), k.astype(np.float32), keep_q.astype(np.float32),
                ((1.0 - keep_q) / leave).astype(np.float32))

    def _grid_index(self, drive: np.ndarray) -> np.ndarray:
        """Nearest table row of each drive value (int16, same shape [steps, 700])."""
        out = np.empty(drive.shape, dtype=np.int16)
        lock, top, scale = self.first_locked, np.float32(_KBAR_ROOT_MAX), \
            np.float32(1.0 / self._step)
        root = np.sqrt(drive[:, :lock])
        out[:, :lock] = np.rint(np.minimum(root, top) * scale)
        s = drive[:, lock:]
        root = np.minimum(np.sqrt(np.abs(s)), top) * np.sign(s)
        out[:, lock:] = np.rint(root * scale) + np.float32(2 * _KBAR_POINTS - 1)
        return out

    # -- stages 3-5 over time, many utterances side by side ------------------------------
    def spikes(self, drives: list[np.ndarray], seeds: list) -> list[np.ndarray]:
        """Bushy-cell spikes of each utterance as (step, channel) int arrays in time order.
        drives[i] is `membrane`'s [steps_i, 700]; seeds[i] (an int or list of ints) seeds its
        nerve noise (an SFC64 generator). Utterances are laid side by side (columns) and padded at
        rest: no column touches another, so a file's spikes do not depend on its batch."""
        lens = [e.shape[0] for e in drives]
        T, W = max(lens), len(drives) * N_UNITS
        index = np.zeros((T, W), dtype=np.int16)  # padding: envelope 0, at rest
        index[:, :] = np.tile(self._grid_index(np.zeros((1, N_UNITS), np.float32)), len(drives))
        for i, e in enumerate(drives):
            index[:lens[i], i * N_UNITS:(i + 1) * N_UNITS] = self._grid_index(e)
        steps, col = self._run(index, [np.random.Generator(np.random.SFC64(s)) for s in seeds])
        which, ch = np.divmod(col, N_UNITS)
        order = np.argsort(which, kind="stable")             # by utterance, time order kept
        bounds = np.searchsorted(which[order], np.arange(len(drives) + 1))
        out = []
        for i in range(len(drives)):
            pick = order[bounds[i]:bounds[i + 1]]
            pick = pick[steps[pick] < lens[i]]               # padding is not the utterance
            out.append(np.stack([steps[pick], ch[pick]], axis=1))
        return out

    def _run(self, index: np.ndarray, rngs: list[np.random.Generator]
             ) -> tuple[np.ndarray, np.ndarray]:
        """Stages 3-5 step by step, one row of all columns at a time (rows stay in cache).
        rngs[i] draws the nerve noise of columns i*700.. in time order. Returns the
        (step, column) of every spike, in time order."""
        W = index.shape[1]
        hair, bushy = _HairCell(self, W), _Bushy(self.config, W)
        nerve = _Nerve(self.config, W, bushy.i_to_v)
        noise = np.empty((_NOISE_BLOCK, W), dtype=np.float32)
        for t in range(index.shape[0]):
            if t % _NOISE_BLOCK == 0:
                for i, rng in enumerate(rngs):
                    noise[:, i * N_UNITS:(i + 1) * N_UNITS] = rng.standard_normal(
                        (_NOISE_BLOCK, N_UNITS), dtype=np.float32)
            bushy.step(nerve.step(hair.step(index[t]), noise[t % _NOISE_BLOCK]))
        return bushy.spikes()


class _HairCell:
    """Meddis pools per column: q' = y (m - q) + x w - k q, w' = r c - x w, with the cleft
    c = k q / (l + r) taken quasi-steady (its time constant, 0.11 ms, is under a step); q
    relaxes exactly over a step for the step's k (tabulated per envelope grid row)."""

    def __init__(self, encoder: CochleaEncoder, width: int):
        c = encoder.config
        self.tables = encoder._k, encoder._keep_q, encoder._gain_q
        lr = c.ihc_l + c.ihc_r
        k0 = float(encoder._k[0])
        self.q = np.full(width, c.ihc_y * c.ihc_m / (c.ihc_y + k0 * c.ihc_l / lr), np.float32)
        self.w = self.q * np.float32(c.ihc_r * k0 / (lr * c.ihc_x))  # at rest
        keep_w = np.exp(-c.ihc_x / c.rate_hz)
        self.to_w = np.float32(c.ihc_r / lr * (1.0 - keep_w) / c.ihc_x)
        self.keep_w, self.ym, self.x = np.float32(keep_w), np.float32(c.ihc_y * c.ihc_m), \
            np.float32(c.ihc_x)
        self.to_count = np.float32(c.ihc_h / lr * c.fibres / c.rate_hz)
        self.a, self.b, self.out = (np.empty(width, np.float32) for _ in range(3))

    def step(self, row: np.ndarray) -> np.ndarray:
        """Expected spikes of all fibres of each column this step, h c fibres dt (before
        their dead time), for one step of envelope grid rows."""
        k, keep_q, gain_q = self.tables
        a, q, w, b = self.a, self.q, self.w, self.b
        np.multiply(w, self.x, out=a)
        a += self.ym
        a *= gain_q.take(row, out=b)
        q *= keep_q.take(row, out=b)
        q += a
        np.multiply(k.take(row, out=b), q, out=self.out)  # k q: release into the cleft
        w *= self.keep_w
        np.multiply(self.out, self.to_w, out=a)
        w += a
        self.out *= self.to_count
        return self.out


class _Nerve:
    """Fibres at rate r with a dead time tau fire at r / (1 + r tau); their summed count
    per step (r counting all fibres) has mean m = r / d, d = 1 + r tau, and, as a renewal
    process, variance F m with F = 1 / d^2. It is drawn as a gamma variable of that mean and
    variance, shape s = m / F = r d, through the Wilson-Hilferty cube of a normal deviate z
    (scaled by `nerve_noise`): m (1 - 1/(9 s) + z / (3 sqrt s))^3. The skew matters: a
    bushy cell fires on coincidences several deviations above the mean. Counts come out
    multiplied by `scale` (folded into the cube as scale^(1/3))."""

    def __init__(self, config: CochleaConfig, width: int, scale: float = 1.0):
        c = scale ** (1.0 / 3.0)
        self.tau = np.float32(config.fibre_refractory_s * config.rate_hz / config.fibres)
        self.c, self.c9 = np.float32(c), np.float32(c / 9.0)
        self.zc = np.float32(c * config.nerve_noise / 3.0)
        self.a, self.d, self.s, self.e = (np.empty(width, np.float32) for _ in range(4))

    def step(self, r: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Counts per column this step, times `scale`, from expected counts r."""
        a, d, s, e = self.a, self.d, self.s, self.e
        np.multiply(r, self.tau, out=d)
        d += np.float32(1.0)                                # d = 1 + r tau
        np.multiply(r, d, out=s)                            # shape s = r d
        np.maximum(s, np.float32(1e-6), out=s)              # r = 0 (k = 0): no count
        np.sqrt(s, out=e)
        np.divide(z, e, out=a)
        a *= self.zc                                        # c z / (3 sqrt s)
        np.divide(self.c9, s, out=e)
        a -= e
        a += self.c                                         # c (1 - 1/(9 s) + z/(3 sqrt s))
        np.maximum(a, np.float32(0.0), out=a)
        np.multiply(a, a, out=e)
        a *= e
        a *= r
        a /= d                                              # times the mean m = r / d
        return a


class _Bushy:
    """LIF bushy cells, exact over a step for I' = -I/ts, V' = -V/tm + w I with the step's
    arrivals added to I at its start; V >= 1 spikes, resets to 0 and is held there for
    the refractory period (counted from the spike's step). `step` takes arrivals already
    multiplied by `i_to_v` (the voltage one arrival's current adds over a step)."""

    def __init__(self, config: CochleaConfig, width: int):
        c = config
        dt = 1.0 / c.rate_hz
        a_syn, a_mem = np.exp(-dt / c.tau_syn_s), np.exp(-dt / c.tau_mem_s)
        w_spike = c.weight / c.fibres
        if np.isclose(c.tau_mem_s, c.tau_syn_s):
            self.i_to_v = w_spike * dt * a_mem
        else:
            self.i_to_v = w_spike * c.tau_syn_s * c.tau_mem_s / (c.tau_mem_s - c.tau_syn_s) \
                * (a_mem - a_syn)
        self.a_syn, self.a_mem = np.float32(a_syn), np.float32(a_mem)
        self.refrac = max(1, int(round(c.refractory_s * c.rate_hz)))
        self.cur, self.v = np.zeros(width, np.float32), np.zeros(width, np.float32)
        self.recent = np.zeros((self.refrac, width), dtype=bool)  # the last `refrac` steps
        self.times: list[np.ndarray] = []
        self.columns: list[np.ndarray] = []
        self.t = 0

    def step(self, arrivals: np.ndarray) -> None:
        cur, v, t, recent = self.cur, self.v, self.t, self.recent
        cur *= self.a_syn
        cur += arrivals
        v *= self.a_mem
        v += cur
        for back in range(1, self.refrac):
            np.putmask(v, recent[(t - back) % self.refrac], 0.0)
        spike = recent[t % self.refrac]
        np.greater_equal(v, np.float32(1.0), out=spike)
        np.putmask(v, spike, 0.0)
        columns = np.flatnonzero(spike)
        if columns.size:
            self.times.append(np.full(columns.size, t, dtype=np.int64))
            self.columns.append(columns)
        self.t += 1

    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(step, column) of every spike so far, in time order."""
        if not self.times:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(self.times), np.concatenate(self.columns)


def bushy_rate(config: CochleaConfig, fibre_rate_hz: float, *, seconds: float = 2.0,
               cells: int = 200, seed: int = 0,
               pulse: tuple[float, float, float] | None = None) -> float:
    """Output rate (Hz) of stages 4-5 for fibres firing at a constant `fibre_rate_hz`
    (before their dead time), or, with pulse = (rate, width s, period s), at `rate` for
    `width` at the start of every `period`: the curves scripts/cochlea_calibrate.py
    compares with lauscher's."""
    steps = int(round(seconds * config.rate_hz))
    rng = np.random.Generator(np.random.SFC64(seed))
    bushy = _Bushy(config, cells)
    nerve = _Nerve(config, cells, bushy.i_to_v)
    for step in range(steps):
        rate = fibre_rate_hz
        if pulse is not None and (step / config.rate_hz) % pulse[2] < pulse[1]:
            rate = pulse[0]
        r = np.full(cells, rate * config.fibres / config.rate_hz, np.float32)
        bushy.step(nerve.step(r, rng.standard_normal(cells, dtype=np.float32)))
    return float(len(bushy.spikes()[0]) / (seconds * cells))
