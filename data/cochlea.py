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
     domain and each channel is returned as its complex envelope at `rate_hz` (2 kHz; the
     envelope channels' at envelope_rate_hz, the window's bins folded so the inverse FFT
     is shorter and gives every other 2 kHz sample exactly):
     only bins within rate_hz/2 of CF are kept, shifted to 0 Hz, inverse-FFT'd; the
     power of the response's low-frequency tail below that window (quarter-octave
     bands, weighted by the channel's gain there) is added to the envelope's. Channels
     with CF <= `lock_hz` (500 Hz, channels 493-699) give instead their signed membrane
     velocity (the same window's bins at their own frequencies, all below rate_hz/2, by
     one real inverse FFT), four or more samples per cycle, so hair cells and bushy
     cells follow its cycles (phase locking, which doubles or triples their output in
     lauscher at these frequencies). The others keep the envelope's magnitude.
  3. inner hair cell: Meddis (1986, 1988) transmitter pools with lauscher's parameters.
     The release permeability k(s) = g (s + a) / (s + a + b) is taken at the velocity in
     phase-locked channels and averaged over one cycle of a sinusoid of the envelope's
     amplitude in the others (a table, exact for a tone); the cleft is taken at its
     quasi-steady value (its time constant, 0.11 ms, is below one step) and the free and
     reprocessing pools are integrated exactly over each step.
  4. auditory nerve: `fibres` (40) fibres per channel firing at the hair cell's rate h*c
     with a 1 ms dead time; their summed count per step is drawn as a gamma variable of
     the renewal process's mean and variance (Wilson-Hilferty cube of a normal deviate,
     seeded per utterance; read from a table of normal quantiles by 16 random bits): the
     bushy cell fires on the count's upper tail.
  5. bushy cell: one leaky integrate-and-fire neuron per channel with lauscher's
     synaptic (0.5 ms) and membrane (1 ms) time constants and threshold 1, integrated
     exactly over each step, reset to 0 and held for a refractory period.
     Three constants of stages 4-5 (`weight`, `refractory_s`, `nerve_noise`) are fitted
     so that the output rate for fibres at constant rates matches lauscher's bushy cell
     (40 Bernoulli fibres, Euler steps at fs/2) within about 20% from 1.5 to 550 Hz
     (scripts/cochlea_calibrate.py prints both curves).
  Stages 3-5 of the envelope channels (CF > lock_hz, 0-492) run at `envelope_rate_hz` (1
     kHz, half the work): their drive is the envelope at the start of each 1 ms step, the
     hair cell's tables are taken for 1 ms steps, and the bushy cell has its own fitted
     `envelope_weight`, `envelope_refractory_s` (1.4 ms, tracked as a fraction of a step)
     and `envelope_nerve_noise`; a spike there is reported in the second 0.5 ms step of
     its 1 ms step. The phase-locked channels stay at 2 kHz, where their cycles need it.
Spikes are reported at the centre of their step (seconds, float). Utterances are
independent: a file's spikes depend on its samples, the seed and its index only, never on
which other files are encoded with it. Differences from lauscher are measured in
docs/speech.md.
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.special
from scipy.io import wavfile

from spiketime.data.speech import N_UNITS
from spiketime.errors import UserError

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
_BLOCK = 32  # steps of stages 3-5 computed together (nerve, tables)
_NOISE_BLOCKS = 4  # blocks whose nerve noise is drawn together


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
    # stages 3-5 of the envelope channels (CF > lock_hz) run at this slower rate (rate_hz
    # a whole multiple of it), with their own three constants, fitted the same way
    envelope_rate_hz: float = 1000.0
    envelope_nerve_noise: float = 0.75
    envelope_refractory_s: float = 1.4e-3
    envelope_weight: float = 20000.0

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
        ratio = self.rate_hz / self.envelope_rate_hz
        if ratio < 1 or not np.isclose(ratio, round(ratio)):
            raise UserError(f"rate_hz / envelope_rate_hz must be a whole number, got "
                            f"{self.rate_hz:g} / {self.envelope_rate_hz:g}")
        if self.lock_hz > self.rate_hz / 4:
            raise UserError(f"lock_hz must be at most rate_hz / 4 = {self.rate_hz / 4:g} "
                            f"(four steps per cycle), got {self.lock_hz:g}")

    def envelope(self) -> CochleaConfig:
        """The config that stages 3-5 of the envelope channels run with: their rate and
        fitted constants in place of rate_hz's (lock_hz does not apply to them)."""
        return replace(self, rate_hz=self.envelope_rate_hz, lock_hz=self.envelope_rate_hz / 4,
                       nerve_noise=self.envelope_nerve_noise,
                       refractory_s=self.envelope_refractory_s, weight=self.envelope_weight)


def channel_cf_hz() -> np.ndarray:
    """Characteristic frequency of each of the 700 channels (Hz, decreasing)."""
    ch = np.arange(N_UNITS)
    return np.exp(np.interp(ch, _KNOT_CHANNELS, np.log(_KNOT_CF_HZ)))


def _channel_gain() -> np.ndarray:
    return np.exp(np.interp(np.arange(N_UNITS), _KNOT_CHANNELS, np.log(_KNOT_GAIN)))


MIN_RATE_HZ = 8000  # below telephone quality, speech's formants above 4 kHz are gone
MIN_SECONDS = 0.05  # an utterance shorter than this holds no word
MAX_SECONDS = 60.0  # an utterance is a word or a phrase; the encoder holds it whole


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Samples (float64, full scale 1; channels averaged) and the sample rate. Refused:
    a truncated file, a rate below MIN_RATE_HZ, audio shorter than MIN_SECONDS or longer
    than MAX_SECONDS."""
    path = Path(path)
    if path.suffix.lower() == ".flac":
        raise UserError(f"{path}: FLAC is not supported; convert it to WAV "
                        f"(e.g. ffmpeg -i {path.name} {path.stem}.wav)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", wavfile.WavFileWarning)  # a truncated file
            rate, data = wavfile.read(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except wavfile.WavFileWarning as exc:
        raise UserError(f"{path}: truncated or damaged WAV file ({exc})") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable WAV file ({exc})") from None
    if rate < MIN_RATE_HZ:
        raise UserError(f"{path}: sampled at {rate} Hz; at least {MIN_RATE_HZ} Hz is needed "
                        f"(speech keeps formants up to 4 kHz)")
    seconds = len(data) / rate
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise UserError(f"{path}: {seconds:.3g} s of audio; an utterance must last "
                        f"{MIN_SECONDS:g}-{MAX_SECONDS:g} s (cut long recordings into "
                        f"utterances)")
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


@dataclass(frozen=True)
class Drive:
    """The basilar membrane's output for the hair cells: the envelope channels' amplitude
    [first_locked, ceil(steps / envelope factor)] every envelope step, the phase-locked
    channels' signed velocity [700 - first_locked, steps] every step of rate_hz."""
    envelope: np.ndarray
    velocity: np.ndarray
    steps: int


class CochleaEncoder:
    """Encodes utterances; holds its config, channel tables and a small filter cache."""

    def __init__(self, config: CochleaConfig | None = None):
        self.config = config or CochleaConfig()
        self.cf = channel_cf_hz()
        self.gain = _channel_gain()
        # the shape resampled on a uniform grid, so a filter table is a lookup, not interp
        fine = np.arange(_SHAPE_OCT[0], _SHAPE_OCT[-1] + 1e-9, 1.0 / _SHAPE_PER_OCTAVE)
        shape = 10.0 ** (np.interp(fine, _SHAPE_OCT, _SHAPE_DB) / 20.0)
        self._shape = (shape * np.exp(1j * np.interp(fine, _SHAPE_OCT, _SHAPE_PHASE))) \
            .astype(np.complex64)  # magnitude and phase
        self._filters: OrderedDict[tuple[int, int], tuple[np.ndarray, ...]] = OrderedDict()
        self.first_locked = int(np.argmax(self.cf <= self.config.lock_hz)) \
            if self.cf[-1] <= self.config.lock_hz else N_UNITS  # channels from here on
        self.envelope_factor = int(round(self.config.rate_hz / self.config.envelope_rate_hz))
        # per rate: (grid step, k, q's decay over a step, weight of q's inflow over a step)
        release = self._release()
        self._tables = {r: self._hair_tables(r, *release) for r in
                        (self.config.rate_hz, self.config.envelope_rate_hz)}
        self._step = self._tables[self.config.rate_hz][0]

    # -- stage 2: basilar membrane -------------------------------------------------------
    def membrane(self, x: np.ndarray, rate: int) -> Drive:
        """The hair cells' drive (float32) after the level stage; steps = ceil(duration *
        rate_hz). Channels below `first_locked` give the amplitude of their membrane
        velocity (its envelope) every envelope step (the first of the rate_hz steps it
        spans); the rest (CF <= lock_hz) the signed velocity itself every step, whose
        cycles the hair cells and bushy cells follow (phase locking)."""
        c = self.config
        x = np.asarray(x, dtype=np.float64)
        rms = np.sqrt(np.mean(x ** 2))
        if not np.isfinite(rms):
            raise UserError("audio contains NaN or infinite samples")
        x = x * (c.rms / rms) if rms > 0 else x
        if c.taper:
            x = x * np.hanning(x.size)
        x = x.astype(np.float32)                             # the filterbank runs in float32
        steps = int(np.ceil(x.size * c.rate_hz / rate))
        # padded length on a coarse grid whose every point is a whole number of steps
        whole = rate // math.gcd(rate, int(c.envelope_rate_hz)) \
            if float(c.envelope_rate_hz).is_integer() else 1
        grid = whole * max(1, int(round(_GRID_S * rate / whole)))
        n_fft = int(np.ceil((x.size + _PAD_S * rate) / grid) * grid)
        m = int(round(n_fft * c.rate_hz / rate))
        first, H, H_real, band_idx, band_gain, tail = self._filter(rate, n_fft, m)
        X = scipy.fft.rfft(x, n_fft)                         # complex64
        # channel c's bins centre_c - m//2 .. centre_c + m//2 - 1 are the row of m values
        # from X_pad[centre_c]: zeros pad the bins below 0 Hz and above Nyquist
        half = m // 2
        X_pad = np.zeros(X.size + half + m, np.complex64)
        X_pad[half + 1:half + X.size] = X[1:]                # no DC
        lock, f = self.first_locked, self.envelope_factor
        starts = np.minimum(self._centre(rate, n_fft)[first:lock], X_pad.size - m)
        Z = np.lib.stride_tricks.sliding_window_view(X_pad, m)[starts]
        Z *= H
        # the phase-locked channels' velocity: a real signal below rate_hz / 2, one real
        # inverse FFT of the spectrum's first bins through their filters (H_real)
        velocity = np.zeros((N_UNITS - lock, steps), np.float32)
        if lock < N_UNITS:
            Y = X[:m // 2 + 1] * H_real
            velocity[:] = scipy.fft.irfft(Y, m, axis=1, overwrite_x=True)[:, :steps]
        # the envelope channels every f-th step: bins folded f-fold (aliasing in frequency
        # is decimation in time), a transform f times shorter (its scale 1/f is in H)
        env_steps = -(-steps // f)
        Z = Z[:lock - first]
        if f > 1 and m % f == 0:
            short = m // f
            fold = np.add(Z[:, :short], Z[:, short:2 * short])
            for j in range(2, f):
                fold += Z[:, j * short:(j + 1) * short]
            Z = scipy.fft.ifft(fold, axis=1, overwrite_x=True)[:, :env_steps]
        else:
            Z = scipy.fft.ifft(Z, axis=1, overwrite_x=True)[:, :steps:f]
        envelope = np.zeros((lock, env_steps), np.float32)
        squares = np.square(Z.view(np.float32))             # first the power
        np.add(squares[:, 0::2], squares[:, 1::2], out=envelope[first:])
        if tail.shape[1]:  # power below the window (low-frequency tail), band by band
            bands = np.concatenate([X, np.zeros(1, np.complex64)])[band_idx]
            bands *= band_gain
            power = np.abs(scipy.fft.ifft(bands, axis=1, overwrite_x=True)[:, :steps:f]) ** 2
            envelope[:tail.shape[0]] += tail[:lock] @ power
        np.sqrt(envelope, out=envelope)                     # power -> amplitude
        return Drive(envelope, velocity, steps)

    def _centre(self, rate: int, n_fft: int) -> np.ndarray:
        """FFT bin of each channel's CF."""
        return np.rint(self.cf / (rate / n_fft)).astype(np.int64)

    def _filter(self, rate: int, n_fft: int, m: int
                ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(first channel with any bin below Nyquist, the filter's gain on the m bins
        around each CF of the envelope channels from there on [channels, m] in frequency
        order, the phase-locked channels' gain on bins 0 .. m//2 for a real inverse FFT,
        and `_tail_bands`), cached per (rate, n_fft)."""
        key = (rate, n_fft)
        if key in self._filters:
            self._filters.move_to_end(key)
            return self._filters[key]
        df = rate / n_fft
        centre = self._centre(rate, n_fft)
        # channels before `first` have no bin below Nyquist: their envelope is 0
        first = min(int(np.argmax(centre - m // 2 <= n_fft // 2)), self.first_locked)
        lock, f = self.first_locked, self.envelope_factor
        # the envelope channels' window: the m bins around CF, in frequency order
        k = centre[first:lock, None] + (np.arange(m) - m // 2)[None, :]
        # the phase-locked channels' rows at their absolute bins 0 .. m//2: the same sum
        # as over their window once shifted back to CF (it spans those bins, and their
        # gain is 0 above 2 CF <= m/2 bins)
        k_real = np.broadcast_to(np.arange(m // 2 + 1), (N_UNITS - lock, m // 2 + 1))
        top = max(int(k.max()) if k.size else 0, m // 2) + 1
        log2_bin = np.log2(np.maximum(np.arange(top), 1) * df).astype(np.float32)
        scale = (self.gain * 2.0 * m / n_fft).astype(np.float32)  # one-sided
        # the envelope channels' folded transform is f times shorter
        fold = np.float32(1.0 / f) if f > 1 and m % f == 0 else None
        H = self._gain(k, first, n_fft, df, log2_bin, scale, centre, fold)
        H_real = self._gain(k_real, lock, n_fft, df, log2_bin, scale, centre)
        H_real[:, 1:m // 2] *= np.float32(0.5)  # the real inverse FFT counts them twice
        self._filters[key] = (first, H, H_real, *self._tail_bands(rate, n_fft, m, centre))
        while len(self._filters) > _CACHE:
            self._filters.popitem(last=False)
        return self._filters[key]

    def _gain(self, k: np.ndarray, lo: int, n_fft: int, df: float, log2_bin: np.ndarray,
              scale: np.ndarray, centre: np.ndarray, fold: np.float32 | None = None
              ) -> np.ndarray:
        """The filter of channels lo, lo + 1, ... (rows of k) at FFT bins k (complex64):
        times scale[channel] (and `fold`), 0 outside the spectrum and above +1 octave."""
        hi = lo + k.shape[0]
        # position on the shape's grid: log2 of each bin (a table) minus log2 of CF
        pos = log2_bin.take(k, mode="clip")                   # bins below 0 read bin 0
        pos -= (np.log2(self.cf[lo:hi]) + _SHAPE_OCT[0]).astype(np.float32)[:, None]
        pos *= np.float32(_SHAPE_PER_OCTAVE)
        np.rint(pos, out=pos)
        inside = (k >= 1) & (k <= n_fft // 2) & (pos <= len(self._shape) - 1)
        H = self._shape.take(pos.astype(np.intp), mode="clip")  # gain 0 outside, below
        H *= scale[lo:hi, None]
        H *= inside
        if fold is not None:
            H *= fold
        if self.config.delay_cycles:  # a delay of the envelope: its phase from CF's bin
            delay = self.config.delay_cycles / self.cf[lo:hi, None]
            H *= np.exp(-2j * np.pi * df * delay * (k - centre[lo:hi, None])
                        ).astype(np.complex64)
        return H

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
    def _release(self) -> tuple[float, np.ndarray]:
        """The hair cell's release k, tabulated on grids even in sqrt(drive) (fine where k
        bends, coarse where it saturates): (grid step, k). Rows 0.._KBAR_POINTS-1: k = g
        (s + a) / (s + a + b), s >= -a, averaged over a cycle of a sinusoid of amplitude E
        (the envelope channels); the next 2 _KBAR_POINTS - 1 rows: k at the signed
        velocity s itself (the phase-locked channels)."""
        c = self.config
        root = np.linspace(0.0, _KBAR_ROOT_MAX, _KBAR_POINTS)
        s = (root ** 2)[:, None] * np.sin(np.linspace(0, 2 * np.pi, 128, endpoint=False))
        signed = np.r_[-root[:0:-1] ** 2, root ** 2]
        u = np.maximum(np.r_[s.ravel(), signed] + c.ihc_a, 0.0)
        k_all = c.ihc_g * u / (u + c.ihc_b)
        return float(root[1]), np.r_[k_all[:s.size].reshape(s.shape).mean(axis=1),
                                     k_all[s.size:]]

    def _hair_tables(self, rate_hz: float, step: float, k: np.ndarray
                     ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The hair cell's per-step coefficients on `_release`'s grid: (grid step, k, q's
        decay over a step, weight of q's inflow over a step), q' = y m + x w - (y + k) q
        integrated exactly over a step of 1 / rate_hz."""
        leave = self.config.ihc_y + k
        keep_q = np.exp(-leave / rate_hz)
        return (step, k.astype(np.float32), keep_q.astype(np.float32),
                ((1.0 - keep_q) / leave).astype(np.float32))

    def _grid_index(self, drive: np.ndarray) -> np.ndarray:
        """Nearest table row of each drive value (int16, same shape [steps, 700]; computed
        channel by channel, as `membrane` lays it out)."""
        d = drive.T
        out = np.empty(d.shape, dtype=np.int16)
        lock = self.first_locked
        out[:lock] = self._envelope_rows(d[:lock])
        out[lock:] = self._signed_rows(d[lock:])
        return out.T

    def _envelope_rows(self, d: np.ndarray) -> np.ndarray:
        """Table rows (int16) of envelope amplitudes d (any shape)."""
        root = np.sqrt(np.minimum(d, np.float32(_KBAR_ROOT_MAX ** 2)))
        root *= np.float32(1.0 / self._step)
        return np.rint(root, out=root).astype(np.int16)

    def _signed_rows(self, s: np.ndarray) -> np.ndarray:
        """Table rows (int16) of signed velocities s (any shape)."""
        root = np.sqrt(np.minimum(np.abs(s), np.float32(_KBAR_ROOT_MAX ** 2)))
        np.copysign(root, s, out=root)
        root *= np.float32(1.0 / self._step)
        root += np.float32(2 * _KBAR_POINTS - 1)
        return np.rint(root, out=root).astype(np.int16)

    def _groups(self) -> list[tuple[int, int, int, CochleaConfig]]:
        """(first channel, end channel, steps of rate_hz per step, config) of the channel
        groups whose stages 3-5 run together: the envelope channels at envelope_rate_hz,
        the phase-locked ones at rate_hz."""
        lock = self.first_locked
        groups = [(0, lock, self.envelope_factor, self.config.envelope()),
                  (lock, N_UNITS, 1, self.config)]
        return [g for g in groups if g[1] > g[0]]

    def _group_rows(self, drive: Drive, lo: int) -> np.ndarray:
        """Table rows [channels, steps] of the channel group that starts at `lo`."""
        if lo >= self.first_locked:
            return self._signed_rows(drive.velocity)
        return self._envelope_rows(drive.envelope)

    # -- stages 3-5 over time, many utterances side by side ------------------------------
    def spikes(self, drives: list[Drive], seeds: list) -> list[np.ndarray]:
        """Bushy-cell spikes of each utterance as (step, channel) int arrays in time order
        (steps of rate_hz; a spike in a slower envelope step is reported in the last of
        the rate_hz steps it spans). drives[i] is `membrane`'s output; seeds[i] (an
        int or list of ints) seeds its nerve noise (an SFC64 generator). Utterances are
        laid side by side (columns, the longest first), padded at rest and left out once
        over: no column touches another, so a file's spikes do not depend on its batch."""
        n = len(drives)
        slots = sorted(range(n), key=lambda i: -drives[i].steps)  # columns: longest first
        lens = [drives[i].steps for i in slots]
        T = lens[0]
        index = []
        for lo, hi, factor, _ in self._groups():  # rows stored step by step, per group
            w = hi - lo
            rows = np.empty((-(-T // factor), n * w), dtype=np.int16)
            at_rest = np.zeros((hi - lo, 1), np.float32)
            rest = self._envelope_rows(at_rest) if lo < self.first_locked \
                else self._signed_rows(at_rest)
            for j, i in enumerate(slots):
                r = self._group_rows(drives[i], lo)
                rows[:r.shape[1], j * w:(j + 1) * w] = r.T
                rows[r.shape[1]:, j * w:(j + 1) * w] = rest.T   # padding at rest
            index.append(rows)
        steps, slot, ch = self._run(index, [seeds[i] for i in slots], lens)
        which = np.array(slots, dtype=np.int64)[slot]
        lens = [e.steps for e in drives]
        key = (which * (T + 1) + steps) * N_UNITS + ch       # by utterance, time, channel
        order = np.argsort(key)
        steps, which, ch = steps[order], which[order], ch[order]
        bounds = np.searchsorted(which, np.arange(n + 1))
        out = []
        for i in range(n):
            pick = slice(bounds[i], bounds[i + 1])
            keep = steps[pick] < lens[i]                    # padding is not the utterance
            out.append(np.stack([steps[pick][keep], ch[pick][keep]], axis=1))
        return out

    def _run(self, index: list[np.ndarray], seeds: list, lens: list[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stages 3-5 of each channel group on its table rows index[g] [group steps,
        utterances x group channels], a block of steps at a time: the hair cells step
        through the block (the only recursion before the bushy cell), the nerve draws the
        whole block at once, the bushy cells step through it. Utterance i lasts lens[i]
        steps of rate_hz, longest first: a block leaves out the columns of those already
        over. Group g's nerve noise for utterance i comes from its own SFC64 stream
        seeded by (seeds[i], g), in time order. Returns the (step of rate_hz, utterance,
        channel) of every spike."""
        steps = lens[0]
        groups = self._groups()
        block = self.envelope_factor * max(1, _BLOCK // self.envelope_factor)
        stages, rngs = [], []
        for g, ((*_, config), rows) in enumerate(zip(groups, index)):
            rngs.append([np.random.Generator(np.random.SFC64([*np.atleast_1d(s), g]))
                         for s in seeds])
            bushy = _Bushy(config, rows.shape[1], rows.shape[0])
            stages.append((_HairCell(self, rows.shape[1], config), _Nerve(config, bushy.i_to_v),
                           bushy))
        noise = [np.empty(0, np.float32)] * len(groups)
        for start in range(0, steps, block):
            alive = sum(n > start for n in lens)                # utterances not yet over
            for g, ((lo, hi, factor, _), rows, (hair, nerve, bushy), group_rngs) in enumerate(
                    zip(groups, index, stages, rngs)):
                w = hi - lo
                rows = rows[start // factor:(start + block) // factor, :alive * w]
                at = start % (block * _NOISE_BLOCKS) // factor
                if at == 0:  # the next few blocks' noise, one draw per utterance
                    todo = min(block * _NOISE_BLOCKS // factor, index[g].shape[0] - start // factor)
                    noise[g] = np.empty((todo, alive * w), dtype=np.float32)
                    for i, rng in enumerate(group_rngs[:alive]):
                        noise[g][:, i * w:(i + 1) * w] = normal_deviates(rng, (todo, w))
                z = noise[g][at:at + rows.shape[0], :rows.shape[1]]
                for arrivals in nerve.counts(hair.run(rows), z):
                    bushy.step(arrivals)
        out = []
        for (lo, hi, factor, _), (_, _, bushy) in zip(groups, stages):
            t, col = bushy.spikes()
            which, ch = np.divmod(col, hi - lo)
            out.append((t * factor + factor - 1, which, ch + lo))
        return tuple(np.concatenate(a) for a in zip(*out)) if out else \
            (np.zeros(0, np.int64),) * 3


class _HairCell:
    """Meddis pools per column: q' = y (m - q) + x w - k q, w' = r c - x w, with the cleft
    c = k q / (l + r) taken quasi-steady (its time constant, 0.11 ms, is under a step); q
    relaxes exactly over a step for the step's k (tabulated per envelope grid row). The
    state is kept as q and u = x w (one multiplication fewer per step)."""

    def __init__(self, encoder: CochleaEncoder, width: int, config: CochleaConfig | None = None):
        c = config or encoder.config
        _, k, keep_q, gain_q = encoder._tables[c.rate_hz]
        lr = c.ihc_l + c.ihc_r
        self.to_count = c.ihc_h / lr * c.fibres / c.rate_hz  # k q -> expected fibre spikes
        # per table row: release k as expected fibre spikes, q's decay, q's inflow weight
        # (side by side: one gather of 16-byte rows is cheaper than three of 4 bytes)
        self.table = np.zeros((k.size, 4), np.float32)
        self.table[:, 0] = k * np.float32(self.to_count)
        self.table[:, 1], self.table[:, 2] = keep_q, gain_q
        k0 = float(k[0])
        self.q = np.full(width, c.ihc_y * c.ihc_m / (c.ihc_y + k0 * c.ihc_l / lr), np.float32)
        self.u = self.q * np.float32(c.ihc_r * k0 / lr)  # x w at rest
        keep_w = np.exp(-c.ihc_x / c.rate_hz)
        # u gains x r/(l+r) k q (1 - keep_w)/x per step: per expected count, that / to_count
        self.to_u = np.float32(c.ihc_r / lr * (1.0 - keep_w) / self.to_count)
        self.keep_w, self.ym = np.float32(keep_w), np.float32(c.ihc_y * c.ihc_m)
        self.a = np.empty(width, np.float32)

    def run(self, rows: np.ndarray) -> np.ndarray:
        """Expected spikes of all fibres of each column per step, h c fibres dt (before
        their dead time), for a block of envelope grid rows [steps, width]."""
        rows = self.table.take(rows, axis=0, mode="clip")  # rows are in range: no checks
        k, keep_q, gain_q = rows[..., 0], rows[..., 1], rows[..., 2]
        out = np.empty(k.shape, np.float32)
        width = k.shape[1]                                  # the first columns only
        a, q, u = self.a[:width], self.q[:width], self.u[:width]
        for t in range(out.shape[0]):
            np.add(u, self.ym, out=a)
            a *= gain_q[t]
            q *= keep_q[t]
            q += a
            np.multiply(k[t], q, out=out[t])                 # k q: release into the cleft
            u *= self.keep_w
            np.multiply(out[t], self.to_u, out=a)
            u += a
        return out


class _Nerve:
    """Fibres at rate r with a dead time tau fire at r / (1 + r tau); their summed count
    per step (r counting all fibres) has mean m = r / d, d = 1 + r tau, and, as a renewal
    process, variance F m with F = 1 / d^2. It is drawn as a gamma variable of that mean and
    variance, shape s = m / F = r d, through the Wilson-Hilferty cube of a normal deviate z
    (scaled by `nerve_noise`): m (1 - 1/(9 s) + z / (3 sqrt s))^3. The skew matters: a
    bushy cell fires on coincidences several deviations above the mean. Counts come out
    multiplied by `scale` (folded into the cube as scale^(1/3))."""

    def __init__(self, config: CochleaConfig, scale: float = 1.0):
        c = scale ** (1.0 / 3.0)
        self.tau = np.float32(config.fibre_refractory_s * config.rate_hz / config.fibres)
        self.c, self.c9 = np.float32(c), np.float32(c / 9.0)
        self.zc = np.float32(c * config.nerve_noise / 3.0)

    def counts(self, r: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Counts (times `scale`) from expected counts r and normal deviates z, any shape
        (elementwise); overwrites z."""
        d = r * self.tau
        d += np.float32(1.0)                                # d = 1 + r tau
        s = r * d                                           # shape s = r d
        s += np.float32(1e-6)                               # r = 0 (k = 0): no count
        e = np.sqrt(s)
        a = np.divide(z, e, out=z)
        a *= self.zc                                        # c z / (3 sqrt s)
        np.divide(self.c9, s, out=e)
        a -= e
        a += self.c                                         # c (1 - 1/(9 s) + z/(3 sqrt s))
        np.multiply(a, a > 0, out=a)                        # max(a, 0), cheaper
        np.multiply(a, a, out=e)
        a *= e
        a *= r
        a /= d                                              # times the mean m = r / d
        return a


@functools.cache
def _normal_table() -> np.ndarray:
    """Quantiles of the standard normal at the centres of 65,536 equal-probability bins:
    a uniform 16-bit integer indexes a normal deviate (to 4.3 deviations; 1e-5 of the
    mass beyond), three times cheaper than numpy's float32 normals."""
    return scipy.special.ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)


def normal_deviates(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal deviates (float32, `shape`), four per 64 random bits of `rng`, in
    order: the same stream however it is split into calls of whole rows."""
    n = int(np.prod(shape))
    bits = rng.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n]
    return _normal_table().take(bits, mode="clip").reshape(shape)


class _Bushy:
    """LIF bushy cells, exact over a step for I' = -I/ts, V' = -V/tm + w I with the step's
    arrivals added to I at its start; V >= 1 spikes, resets to 0 and is held there for
    the refractory period (counted from the spike's step). A period that is not a whole
    number of steps is tracked per cell as the time left: a step partly inside it keeps
    only the fraction of its voltage gained after it (its input integrated over the rest
    of the step), and a spike in such a step is taken at the period's end, from which the
    next period counts. `step` takes arrivals already multiplied by `i_to_v` (the voltage
    one arrival's current adds over a step)."""

    def __init__(self, config: CochleaConfig, width: int, steps: int):
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
        period = max(1.0, c.refractory_s * c.rate_hz)         # in steps
        self.refrac = int(round(period))
        self.cur, self.v = np.zeros(width, np.float32), np.zeros(width, np.float32)
        self.period = None  # whole steps: holds from the last spikes; else time left per cell
        if not np.isclose(period, self.refrac, rtol=0, atol=1e-6):
            self.period = np.float32(period)
            self.after = np.float32(self.period + 1.0)  # time left after a spike, +1 step
            self.left, self.held = np.zeros(width, np.float32), np.zeros(width, np.float32)
            self.refrac = 1
        # every step's spikes, after `refrac` rows of none (the holds look back into them)
        self.fired = np.zeros((self.refrac + steps, width), dtype=bool)
        self.t = 0

    def step(self, arrivals: np.ndarray) -> None:
        """One step for the first arrivals.size cells (the rest stay as they are, with no
        spike); at most `steps` (the constructor's) in all."""
        width, row = arrivals.shape[0], self.t + self.refrac
        cur, v, fired = self.cur[:width], self.v[:width], self.fired[:, :width]
        cur *= self.a_syn
        cur += arrivals
        v *= self.a_mem
        v += cur
        if self.period is not None:
            self._step_fractional(v, fired[row])
        else:
            for back in range(1, self.refrac):
                np.copyto(v, np.float32(0.0), where=fired[row - back])
            np.greater_equal(v, np.float32(1.0), out=fired[row])
            if self.refrac == 1:  # otherwise the next step's hold resets v
                np.copyto(v, np.float32(0.0), where=fired[row])
        self.t += 1

    def _step_fractional(self, v: np.ndarray, spike: np.ndarray) -> None:
        """The rest of `step` for a period of a fractional number of steps."""
        held, left = self.held[:v.size], self.left[:v.size]
        np.minimum(left, np.float32(1.0), out=held)         # part of this step still held
        np.subtract(np.float32(1.0), held, out=held)
        v *= held                                           # voltage gained after it
        np.greater_equal(v, np.float32(1.0), out=spike)
        np.copyto(v, np.float32(0.0), where=spike)
        # a spike at the period's end (1 - held into the step): the next ends `period` on
        np.subtract(self.after, held, out=held)
        np.copyto(left, held, where=spike)
        left -= np.float32(1.0)
        np.maximum(left, np.float32(0.0), out=left)

    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(step, column) of every spike so far, in time order."""
        fired = self.fired[self.refrac:self.refrac + self.t]
        t, col = np.divmod(np.flatnonzero(fired), fired.shape[1])  # 8x faster than nonzero
        return t.astype(np.int64, copy=False), col.astype(np.int64, copy=False)


def bushy_rate(config: CochleaConfig, fibre_rate_hz: float, *, seconds: float = 2.0,
               cells: int = 200, seed: int = 0,
               pulse: tuple[float, float, float] | None = None) -> float:
    """Output rate (Hz) of stages 4-5 for fibres firing at a constant `fibre_rate_hz`
    (before their dead time), or, with pulse = (rate, width s, period s), at `rate` for
    `width` at the start of every `period`: the curves scripts/cochlea_calibrate.py
    compares with lauscher's."""
    steps = int(round(seconds * config.rate_hz))
    rng = np.random.Generator(np.random.SFC64(seed))
    bushy = _Bushy(config, cells, steps)
    nerve = _Nerve(config, bushy.i_to_v)
    for step in range(steps):
        rate = fibre_rate_hz
        if pulse is not None and (step / config.rate_hz) % pulse[2] < pulse[1]:
            rate = pulse[0]
        r = np.full(cells, rate * config.fibres / config.rate_hz, np.float32)
        bushy.step(nerve.counts(r, normal_deviates(rng, (cells,))))
    return float(len(bushy.spikes()[0]) / (seconds * cells))
