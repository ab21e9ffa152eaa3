"""Loihi 2's 24-bit u and v in the trained forward pass (train/registers.py).

Inside the registers the trained network is slayer's own, value for value; driven past
them it follows the chip (the emulator's `run_neurons`, which Lava matches) where slayer
alone does not; end to end, a network whose output voltage saturates deploys
spike-exact; and the gradient still flows.
"""
from __future__ import annotations

import numpy as np
import torch

from spiketime import loihi2
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.sim.emulator import Cuba, EmulatorBackend, run_neurons
from spiketime.train import model as model_module
from spiketime.train.evaluate import run_trained_layers
from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.registers import chip_integrate

SCALE = 4096  # slayer's s_scale for CUBA: its units are the registers'


def _slayer_neuron(current_decay: float, voltage_decay: float, n: int, chip: bool):
    from lava.lib.dl.slayer.neuron import cuba

    from spiketime.train.registers import use_chip_registers

    neuron = cuba.Neuron(threshold=1.0, current_decay=current_decay,
                         voltage_decay=voltage_decay, requires_grad=True)
    neuron.dynamics(torch.zeros(1, n, 1))  # fixes its shape
    if chip:
        use_chip_registers(neuron)
    return neuron


def _emulated(x: torch.Tensor, neuron) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, spikes) [N, n, T] of the emulator's neurons for slayer input x [N, n, T]."""
    from lava.lib.dl.slayer.utils import quantize

    a = np.trunc(SCALE * x.numpy().astype(np.float64)).transpose(1, 2, 0)  # [n, T, N]
    p = Cuba(i_decay=int(quantize(neuron.current_decay)), v_decay=int(quantize(
        neuron.voltage_decay)), vth=float(SCALE))
    s, u, v = run_neurons(a, p, states=True)
    return tuple(np.transpose(z, (2, 0, 1)) for z in (u, v, s))


def test_inside_the_registers_slayer_is_unchanged() -> None:
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(-40, 41, (3, 5, 50), generator=gen).float() / 16
    decay = torch.tensor([0.0, 300.0, 1024.0, 4000.0, 4096.0])
    for threshold in (None, 1.0):
        ours = chip_integrate(x, decay, SCALE, wrap=threshold is None, threshold=threshold)
        slayer = leaky_integrator.dynamics(x, decay, torch.zeros(3, 5), SCALE, threshold)
        assert torch.equal(ours, slayer)


def test_voltage_saturates_and_current_wraps_as_on_the_chip() -> None:
    n, steps = 2, 60
    x = torch.zeros(1, n, steps)
    x[0, 0, :20] = -400.0  # neuron 0: voltage far below the floor, then driven back up
    x[0, 0, 20:] = 60.0
    x[0, 1, :30] = 900.0  # neuron 1: current past 2**23 (in register units), wraps
    x[0, 1, 30:] = -900.0
    plain = _slayer_neuron(0.1, 0.0, n, chip=False)
    chip = _slayer_neuron(0.1, 0.0, n, chip=True)
    u, v, s = _emulated(x, chip)
    assert v.min() == loihi2.STATE_MIN and u.max() > 0 > u[0, 1].min()  # both limits reached
    with torch.no_grad():
        cur_p, vol_p = plain.dynamics(x)
        cur_c, vol_c = chip.dynamics(x)
        spikes_p, spikes_c = plain.spike(vol_p), chip.spike(vol_c)
    assert vol_p.min() * SCALE < loihi2.STATE_MIN  # slayer alone leaves the range ...
    assert not np.array_equal(spikes_p.numpy(), s)  # ... and spikes differently
    assert np.array_equal((cur_c * SCALE).numpy(), u)  # with the registers: the chip's
    assert np.array_equal(spikes_c.numpy(), s)
    assert np.array_equal(np.where(s, 0, (vol_c * SCALE).numpy()), np.where(s, 0, v))


def _sinking_net() -> tuple[SpikingNet, np.ndarray]:
    """4-6-2 with weights set by hand: the outputs sink below the voltage floor while the
    first half of the inputs fires, and rise and spike while the second half does."""
    model = SpikingNet(ModelConfig(inputs=4, hidden=(6,), outputs=2, seed=0,
                                   current_decay=0.2, voltage_decay=0.01))
    w0 = torch.zeros(6, 4)
    w0[:3, :2] = 3.0  # hidden 0-2 follow channels 0-1 (early), 3-5 channels 2-3 (late)
    w0[3:, 2:] = 3.0
    w1 = torch.tensor([[-4.0] * 3 + [3.0] * 3, [-3.0] * 3 + [3.0] * 3])
    with torch.no_grad():
        model.blocks[0].synapse.weight.copy_(w0.reshape_as(model.blocks[0].synapse.weight))
        model.blocks[1].synapse.weight.copy_(w1.reshape_as(model.blocks[1].synapse.weight))
    rng = np.random.default_rng(0)
    X = np.zeros((8, 4, 200), np.uint8)
    X[:, :2, :100] = rng.random((8, 2, 100)) < 0.5
    X[:, 2:, 100:] = rng.random((8, 2, 100)) < 0.5
    return model, X


def test_a_network_whose_output_voltage_saturates_deploys_spike_exact(tmp_path,
                                                                       monkeypatch) -> None:
    model, X = _sinking_net()
    netx = write_netx(to_netx(model, {}), tmp_path / "net.net")
    deployed = EmulatorBackend().run(netx, X, hidden=True, states=True)
    assert deployed.v[-1].min() == loihi2.STATE_MIN and deployed.output.sum() > 0
    out, hidden = run_trained_layers(model, X)
    assert np.array_equal(out, deployed.output)
    assert all(np.array_equal(a, b) for a, b in zip(hidden, deployed.hidden))
    monkeypatch.setattr(model_module, "use_chip_registers", lambda neuron: None)
    monkeypatch.setenv("SPIKETIME_KERNELS", "slayer")  # the compiled kernels hold 24 bits too
    plain, _ = _sinking_net()  # slayer's unbounded states: not what the chip does
    assert not np.array_equal(run_trained_layers(plain, X)[0], deployed.output)


def test_gradients_flow_through_the_chip_values() -> None:
    neuron = _slayer_neuron(0.1, 0.0, 2, chip=True)
    x = torch.full((1, 2, 40), -400.0, requires_grad=True)
    with torch.no_grad():
        x[0, :, 20:] = 60.0
    _, voltage = neuron.dynamics(x)
    assert voltage.min() * SCALE == loihi2.STATE_MIN
    voltage.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
