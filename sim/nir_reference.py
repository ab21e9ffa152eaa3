"""The float reference: a NIR chain's own dynamics, in float64, for parity across a conversion.

NIR's equations (nir 1.x, `nir.CubaLIF`, `nir.LIF`, `nir.Delay`):

    tau_syn dI/dt = -I + w_in x          (CubaLIF only; a LIF's I is its input x)
    tau_mem dv/dt = (v_leak - v) + r I
    spike when v > v_threshold, then v = v_reset;   Delay: y(t) = x(t - delay)

Discretization (stated once, in `export.nir_graph.NirLayer.discretize`): forward
Euler at step dt, the current updated before the voltage, which reads this step's
current. Two timing conventions match the chip and are part of the reference:

- a spike crosses a weight node in one step: the current at step t takes the
  input spikes of step t - 1 (Loihi's synapse pipeline; in continuous time a lag
  of dt that vanishes as dt -> 0);
- a Delay of d seconds moves a layer's output spikes by round(d / dt) steps.

Nothing is quantized: weights, decays and thresholds stay real numbers, so the
reference differs from the integer deployment only by the chip's rounding.
"""
from __future__ import annotations

import numpy as np

from spiketime.export.nir_graph import Discrete, NirNetwork


class NirReference:
    """Runs a `NirNetwork` at time step `dt_ms` on spike trains uint8 [N, C, T]."""

    def __init__(self, net: NirNetwork, dt_ms: float, state_step: float | None = None) -> None:
        """`state_step` None (the reference) keeps every value real. A number truncates the
        decayed current and voltage toward zero to multiples of it each step, as the chip
        does (1/4096 of a weight unit at the native scale): the one difference between the
        two, switched on to show that it is the only one (tests/test_nir.py)."""
        self.net = net
        self.dt = dt_ms / 1000.0
        self.steps = [layer.discretize(self.dt) for layer in net.layers]
        self.state_step = state_step

    @property
    def inputs(self) -> int:
        return self.net.input_size

    @property
    def outputs(self) -> int:
        return self.net.output_size

    def run_layers(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's spikes uint8 [N, n_i, T], the output layer's last."""
        spikes = np.asarray(X, dtype=np.float64)
        out = []
        for layer, d in zip(self.net.layers, self.steps):
            spikes = _run_layer(spikes, layer.weight, layer.bias, d, self.state_step)
            out.append(spikes.astype(np.uint8))
        return out

    def reference_run(self, X: np.ndarray, hidden: bool = False
                      ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """(output spikes, hidden layers' spikes if asked): the parity harness's trained side."""
        layers = self.run_layers(X)
        return layers[-1], tuple(layers[:-1]) if hidden else ()


def _decayed(x: np.ndarray, keep: np.ndarray, step: float | None) -> np.ndarray:
    if step is None:
        return keep * x
    return np.trunc(keep * x / step) * step


def _run_layer(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, d: Discrete,
               state_step: float | None) -> np.ndarray:
    """Input spikes float [N, in, T] -> output spikes float [N, out, T]."""
    n, _, steps = x.shape
    drive = np.einsum("oi,nit->not", weight, x)  # W x[t]
    lagged = np.zeros_like(drive)
    lagged[..., 1:] = drive[..., :-1]  # one step across the weight node
    lagged += bias[None, :, None]
    i = np.zeros((n, weight.shape[0]))
    v = np.zeros_like(i)
    s = np.zeros_like(lagged)
    for t in range(steps):
        i = _decayed(i, d.current_keep, state_step) + d.current_gain * lagged[..., t]
        v = _decayed(v, d.voltage_keep, state_step) + d.voltage_gain * i + d.leak
        fired = v > d.threshold
        v = np.where(fired, d.reset, v)
        s[..., t] = fired
    return _delay(s, np.round(d.delay_steps).astype(np.int64))


def _delay(s: np.ndarray, delay: np.ndarray) -> np.ndarray:
    if not delay.any():
        return s
    out = np.zeros_like(s)
    steps = s.shape[-1]
    for j, k in enumerate(delay):
        if k < steps:
            out[:, j, k:] = s[:, j, :steps - k]
    return out


ARITHMETICS = ("float", "chip")  # what `compare --nir-reference` chooses between
CHUNK = 256  # samples emulated at a time (bounds the emulator's working memory)


class ChipReference:
    """A NIR chain run with the chip's integer arithmetic: quantized as `spiketime import`
    quantizes it (`export.nir_in.quantize` at step `dt_ms`: threshold mantissas, even
    weights, 12-bit decays, whole-step delays) and run by the bit-exact emulator. A NetX
    file imported from this graph (or exported to it, when the round trip is exact)
    gives the very same spikes, so parity is judged by spike identity."""

    def __init__(self, net: NirNetwork, dt_ms: float) -> None:
        from spiketime.export.nir_in import quantize
        from spiketime.sim.emulator import compile_network

        self.net = net
        self.netx, _, _ = quantize(net, dt_ms)  # out-of-range values: refused, never clipped
        self.layers = compile_network(self.netx)

    @property
    def inputs(self) -> int:
        return self.net.input_size

    @property
    def outputs(self) -> int:
        return self.net.output_size

    def run_layers(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's spikes uint8 [N, n_i, T], the output layer's last."""
        from spiketime.sim.emulator import emulate

        X = np.asarray(X, dtype=np.uint8)
        chunks = [emulate(self.layers, X[i:i + CHUNK]) for i in range(0, len(X), CHUNK)]
        if not chunks:
            return [np.zeros((0, n.out_features, X.shape[2]), np.uint8) for n in self.netx.layers]
        return [np.concatenate([c[k][0] for c in chunks])
                for k in range(len(self.layers))]

    def reference_run(self, X: np.ndarray, hidden: bool = False
                      ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        layers = self.run_layers(X)
        return layers[-1], tuple(layers[:-1]) if hidden else ()


def reference(net: NirNetwork, dt_ms: float, arithmetic: str = "float"
              ) -> NirReference | ChipReference:
    """The NIR graph's reference in `arithmetic` ("float": NIR's own equations in float64;
    "chip": the chip's integers)."""
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"unknown NIR reference arithmetic {arithmetic!r}; choose "
                         f"{' or '.join(ARITHMETICS)}")
    return ChipReference(net, dt_ms) if arithmetic == "chip" else NirReference(net, dt_ms)
