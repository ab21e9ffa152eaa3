"""Audio -> 700-channel spike trains, the stages of SHD's encoder (Cramer et al. 2020,
the `lauscher` package) computed at an envelope rate so that numpy does it fast.

The chain, per utterance (mono samples at any rate):
  1. level: scaled to RMS 0.3 and tapered by a Hann window over its whole length, as
     lauscher does before its basilar membrane.
  2. basilar membrane: 700 band-pass channels over SHD's range (channel 0 = 22.5 kHz at
     the base .. channel 699 = 100 Hz at the apex). Each channel's magnitude response is
     lauscher's (Sieroka et al. 2006 shallow-water model), measured from lauscher 1.0.1 by
     scripts/cochlea_calibrate.py: characteristic frequency (CF) and peak gain tabulated
     every 50 channels, one shape in octaves from CF (the model is nearly scale-invariant:
     about 9 dB/octave below CF, a cliff above it). The phase is a pure delay of
     `delay_cycles` periods of CF (the travelling wave's group delay; lauscher's measured
     delays are 2.5-3.1 cycles but of the opposite sign, i.e. its low channels lead the
     sound). The filter is applied in the frequency domain and each channel is returned
     as its complex envelope at `rate_hz` (2 kHz): only bins within rate_hz/2 of CF are
     kept, shifted to 0 Hz, inverse-FFT'd. The envelope's magnitude is the amplitude of the
     membrane velocity lauscher feeds its hair cells.
  3. inner hair cell: Meddis (1986, 1988) transmitter pools with lauscher's parameters.
     The release permeability k(s) = g (s + a) / (s + a + b) is averaged over one cycle
     of a sinusoid of the envelope's amplitude (a table, exact for a tone), the cleft is
     taken at its quasi-steady value (its time constant, 0.11 ms, is below one step) and
     the free and reprocessing pools are integrated exactly over each step.
  4. auditory nerve: `fibres` (40) fibres per channel firing at the hair cell's rate h*c
     with a 1 ms dead time; their summed count per step is drawn as a Gaussian of the
     dead-time renewal process's mean and variance (clipped at 0), seeded per utterance.
  5. bushy cell: one leaky integrate-and-fire neuron per channel with lauscher's
     synaptic (0.5 ms) and membrane (1 ms) time constants, weight 13e3/40 per fibre
     spike, threshold 1, reset to 0 and a 1 ms refractory period, integrated exactly.
Spikes are reported at the centre of their step (seconds, float). Utterances are
independent: a file's spikes depend on its samples, the seed and its index only, never on
which other files are encoded with it. Differences from lauscher are measured in
docs/speech.md.
"""
from __future__ import annotations

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
_SHAPE_DB = (-62.0, -59.8, -57.5, -55.3, -53.0, -50.9, -48.7, -46.5, -44.3, -42.1, -39.9, -37.8,
             -34.6, -33.7, -32.7, -31.8, -30.8, -29.9, -28.9, -27.9, -26.9, -25.9, -25.0, -23.9,
             -22.9, -21.8, -20.7, -19.6, -18.4, -17.3, -16.2, -15.1, -13.9, -12.8, -11.7, -10.5,
             -9.4, -8.2, -7.0, -5.8, -4.6, -3.3, -2.0, -0.7, 0.0, -3.0, -18.0, -34.9, -49.1,
             -61.3, -72.1, -82.1, -91.5)
_PAD_S = 0.1      # silence appended before the FFT: the delayed response must not wrap around
_GRID_S = 0.25    # padded lengths are multiples of this, so filter tables are reused
_CACHE = 6        # filter tables kept (per sample rate and padded length)
_KBAR_ROOT_MAX = 100.0  # release table up to an envelope of 1e4 (saturated long before)
_KBAR_POINTS = 4001
_NOISE_BLOCK = 256  # nerve noise drawn this many steps at a time


@dataclass(frozen=True)
class CochleaConfig:
    """The encoder's parameters (lauscher's values unless said otherwise)."""
    seed: int = 0
    rms: float = 0.3               # input level after normalisation
    taper: bool = True             # Hann window over the whole utterance (lauscher's)
    rate_hz: float = 2000.0        # envelope / neuron update rate (ours; lauscher: fs / 2)
    delay_cycles: float = 3.0      # basilar-membrane group delay in periods of CF (ours)
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
    # bushy cell
    tau_mem_s: float = 1e-3
    tau_syn_s: float = 5e-4
    refractory_s: float = 1e-3
    weight: float = 13e3           # summed over the fibres

    def __post_init__(self) -> None:
        positive = {k: v for k, v in asdict(self).items() if k not in ("seed", "taper")}
        bad = [k for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise UserError(f"cochlea parameters must be positive numbers: {', '.join(bad)}")
        if self.rate_hz < 500 or self.rate_hz > 20000:
            raise UserError(f"rate_hz must lie in [500, 20000], got {self.rate_hz:g}")


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
    return x, int(rate)


class CochleaEncoder:
    """Encodes utterances; holds its config, channel tables and a small filter cache."""

    def __init__(self, config: CochleaConfig | None = None):
        self.config = config or CochleaConfig()
        self.cf = channel_cf_hz()
        self.gain = _channel_gain()
        self._filters: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = \
            OrderedDict()
        self._step, self._k, self._keep_q, self._gain_q = self._tables()

    # -- stage 2: basilar membrane -------------------------------------------------------
    def envelope(self, x: np.ndarray, rate: int) -> np.ndarray:
        """Membrane-velocity envelope [steps, 700] (float32) at `rate_hz`, after the level
        stage; steps = ceil(duration * rate_hz)."""
        c = self.config
        x = np.asarray(x, dtype=np.float64)
        rms = np.sqrt(np.mean(x ** 2))
        if not np.isfinite(rms):
            raise UserError("audio contains NaN or infinite samples")
        x = x * (c.rms / rms) if rms > 0 else x
        if c.taper:
            x = x * np.hanning(x.size)
        steps = int(np.ceil(x.size * c.rate_hz / rate))
        # padded length: a whole number of envelope steps, on a coarse grid
        grid = max(1, int(round(_GRID_S * rate)))
        n_fft = int(np.ceil((x.size + _PAD_S * rate) / grid) * grid)
        m = int(round(n_fft * c.rate_hz / rate))
        idx, H = self._filter(rate, n_fft, m)
        X = np.fft.rfft(x, n_fft)
        X = np.concatenate([X, [0.0]])  # index -1 -> outside the spectrum -> 0
        Z = X[idx].astype(np.complex64) * H
        env = np.abs(scipy.fft.ifft(np.fft.ifftshift(Z, axes=1), axis=1))
        env *= 2.0 * m / n_fft  # one-sided spectrum -> amplitude of the real band signal
        return np.ascontiguousarray(env[:, :steps].T, dtype=np.float32)

    def _filter(self, rate: int, n_fft: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        key = (rate, n_fft)
        if key in self._filters:
            self._filters.move_to_end(key)
            return self._filters[key]
        df = rate / n_fft
        centre = np.rint(self.cf / df).astype(np.int64)
        k = centre[:, None] + np.arange(m)[None, :] - m // 2       # FFT bin per output bin
        valid = (k >= 1) & (k <= n_fft // 2)
        f = np.maximum(k, 1) * df
        octaves = np.log2(f / self.cf[:, None])
        mag = 10.0 ** (np.interp(octaves, _SHAPE_OCT, _SHAPE_DB, left=_SHAPE_DB[0],
                                 right=-np.inf) / 20.0) * self.gain[:, None]
        delay = self.config.delay_cycles / self.cf[:, None]
        H = np.where(valid, mag * np.exp(-2j * np.pi * (f - centre[:, None] * df) * delay), 0)
        idx = np.where(valid, k, -1)
        self._filters[key] = (idx, H.astype(np.complex64))
        while len(self._filters) > _CACHE:
            self._filters.popitem(last=False)
        return self._filters[key]

    # -- stage 3: inner hair cell release, averaged over a cycle -------------------------
    def _tables(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The hair cell's per-step coefficients as functions of the envelope E, tabulated on
        a grid even in sqrt(E) (fine where k bends, coarse where it saturates):
        (grid step, k, q's decay over a step, weight of q's inflow over a step).
        k is the permeability g (s + a) / (s + a + b), s >= -a, averaged over a cycle of a
        sinusoid of amplitude E; q' = y m + x w - (y + k) q is integrated exactly."""
        c = self.config
        root = np.linspace(0.0, _KBAR_ROOT_MAX, _KBAR_POINTS)
        s = (root ** 2)[:, None] * np.sin(np.linspace(0, 2 * np.pi, 512, endpoint=False))
        u = np.maximum(s + c.ihc_a, 0.0)
        k = (c.ihc_g * u / (u + c.ihc_b)).mean(axis=1)
        leave = c.ihc_y + k
        keep_q = np.exp(-leave / c.rate_hz)
        return (float(root[1]), k.astype(np.float32), keep_q.astype(np.float32),
                ((1.0 - keep_q) / leave).astype(np.float32))

    def _grid_index(self, env: np.ndarray) -> np.ndarray:
        """Nearest table row of each envelope value (int16, same shape)."""
        i = np.sqrt(env) * np.float32(1.0 / self._step) + np.float32(0.5)
        return np.minimum(i, np.float32(_KBAR_POINTS - 1)).astype(np.int16)

    # -- stages 3-5 over time, many utterances side by side ------------------------------
    def spikes(self, envelopes: list[np.ndarray], seeds: list) -> list[np.ndarray]:
        """Bushy-cell spikes of each utterance as (step, channel) int arrays in time order.
        envelopes[i] is [steps_i, 700]; seeds[i] (anything `np.random.default_rng` takes)
        seeds its nerve noise. Utterances are laid side by side (columns) and padded at
        rest: no column touches another, so a file's spikes do not depend on its batch."""
        lens = [e.shape[0] for e in envelopes]
        T, W = max(lens), len(envelopes) * N_UNITS
        index = np.zeros((T, W), dtype=np.int16)  # padding: envelope 0, at rest
        for i, e in enumerate(envelopes):
            index[:lens[i], i * N_UNITS:(i + 1) * N_UNITS] = self._grid_index(e)
        fired = self._run(index, [np.random.default_rng(s) for s in seeds])
        out = []
        for i in range(len(envelopes)):
            steps, ch = np.nonzero(fired[:lens[i], i * N_UNITS:(i + 1) * N_UNITS])
            out.append(np.stack([steps, ch], axis=1))
        return out

    def _run(self, index: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """Stages 3-5 step by step (one row of all columns at a time: rows stay in cache).

        Hair cell: Meddis pools, q' = y (m - q) + x w - k q, w' = r c - x w, with the cleft
        c = k q / (l + r) quasi-steady (its time constant, 0.11 ms, is under a step).
        Nerve: `fibres` fibres at rate h c with a dead time; their summed count per step is
        Poisson, drawn as the Wilson-Hilferty cube of a normal deviate (its skew matters: a
        bushy cell fires on rare coincidences, 3-4 standard deviations above the mean).
        Bushy cell: exact over a step for I' = -I/ts, V' = -V/tm + w I with the step's
        arrivals added to I at its start; V >= 1 spikes, resets to 0 and stays there for
        the refractory period. rngs[i] draws the nerve noise of columns i*700.. in time
        order. Returns spikes bool [T, W]."""
        c = self.config
        f32 = np.float32
        dt = 1.0 / c.rate_hz
        lr = c.ihc_l + c.ihc_r
        k0 = float(self._k[0])
        W = index.shape[1]
        q = np.full(W, c.ihc_y * c.ihc_m / (c.ihc_y + k0 * c.ihc_l / lr), np.float32)
        w = q * f32(c.ihc_r * k0 / (lr * c.ihc_x))
        keep_w = np.exp(-c.ihc_x * dt)
        to_w = f32(c.ihc_r / lr * (1.0 - keep_w) / c.ihc_x)
        keep_w, ym, x = f32(keep_w), f32(c.ihc_y * c.ihc_m), f32(c.ihc_x)
        # nerve: per-fibre rate h k q / (l + r); dead time tau: rate / (1 + rate tau)
        rate_per_kq, tau = f32(c.ihc_h / lr), f32(c.fibre_refractory_s)
        fibres_dt = f32(c.fibres * dt)
        # bushy cell
        a_syn, a_mem = np.exp(-dt / c.tau_syn_s), np.exp(-dt / c.tau_mem_s)
        w_spike = c.weight / c.fibres
        if np.isclose(c.tau_mem_s, c.tau_syn_s):
            i_to_v = w_spike * dt * a_mem
        else:
            i_to_v = w_spike * c.tau_syn_s * c.tau_mem_s / (c.tau_mem_s - c.tau_syn_s) \
                * (a_mem - a_syn)
        a_syn, a_mem, i_to_v = f32(a_syn), f32(a_mem), f32(i_to_v)
        refrac = max(1, int(round(c.refractory_s * c.rate_hz)))
        cur, v = np.zeros(W, np.float32), np.zeros(W, np.float32)
        a, b, rate = (np.empty(W, np.float32) for _ in range(3))
        fired = np.zeros((index.shape[0] + refrac, W), dtype=bool)  # refrac rows of past
        noise = np.empty((_NOISE_BLOCK, W), dtype=np.float32)
        for t in range(index.shape[0]):
            if t % _NOISE_BLOCK == 0:
                for i, rng in enumerate(rngs):
                    noise[:, i * N_UNITS:(i + 1) * N_UNITS] = rng.standard_normal(
                        (_NOISE_BLOCK, N_UNITS), dtype=np.float32)
            row, z = index[t], noise[t % _NOISE_BLOCK]
            # hair cell
            np.multiply(w, x, out=a)
            a += ym
            a *= self._gain_q.take(row)
            q *= self._keep_q.take(row)
            q += a
            np.multiply(self._k.take(row), q, out=rate)        # k q
            w *= keep_w
            np.multiply(rate, to_w, out=a)
            w += a
            # nerve: Poisson count of mean `rate`, Wilson-Hilferty cube of the normal z
            rate *= rate_per_kq                                 # spikes/s per fibre
            np.multiply(rate, tau, out=a)
            a += f32(1.0)
            rate /= a                                           # after the dead time
            rate *= fibres_dt                                   # mean count per step
            np.sqrt(rate, out=b)
            np.divide(z, b, out=a)
            a *= f32(1.0 / 3.0)                                 # z / (3 sqrt(mean))
            np.divide(f32(1.0 / 9.0), rate, out=b)
            a -= b
            a += f32(1.0)
            np.maximum(a, f32(0.0), out=a)
            np.multiply(a, a, out=b)
            a *= b
            a *= rate                                           # mean (1 - 1/9m + z/3vm)^3
            # bushy cell
            cur *= a_syn
            cur += a
            v *= a_mem
            np.multiply(cur, i_to_v, out=a)
            v += a
            for back in range(1, refrac):  # held at 0 for `refrac` steps from a spike's
                np.putmask(v, fired[t + back], 0.0)
            spike = fired[t + refrac]
            np.greater_equal(v, f32(1.0), out=spike)
            np.putmask(v, spike, 0.0)
        return fired[refrac:]
