"""The emulator against Lava fixed_pt: spikes, u and v, array for array.

Lava is slow to start (~1-2 s a run) and to step (~1.5 ms a step, ~8 ms with
monitors), so each Lava run below checks several samples of one network, and
only a few networks get their u and v recorded.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from support import random_layer, random_spikes, run_lava

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx
from spiketime.sim.emulator import Cuba, EmulatorBackend, cuba_step, run_neurons
from spiketime.sim.lava_cpu import LavaCpuBackend
from spiketime.sim.registry import get_backend

FULL = loihi2.DECAY_SCALE


def inputs(rng: np.random.Generator, channels: int, steps: int) -> np.ndarray:
    """Three samples: saturating (every channel every step), dense, sparse."""
    return np.concatenate([np.ones((1, channels, steps), np.uint8),
                           random_spikes(1, channels, steps, 0.3, rng),
                           random_spikes(1, channels, steps, 0.05, rng)])


# Networks whose u and v are compared step by step. Each one aims at a corner of
# the fixed-point arithmetic; the comments say which.
def net_extremes(rng):
    # iDecay 0 + saturating input into mostly positive weights: u grows until it
    # wraps past 2**23. Decays 0 and 4096 on u and v, delays only 0 and 62.
    return NetxNetwork((
        random_layer(rng, 20, 16, i_decay=0, v_decay=FULL, vth=4000, w=(-20, 254),
              delays=(0, loihi2.MAX_DELAY)),
        random_layer(rng, 16, 10, i_decay=FULL, v_decay=0, vth=300, delays=(0, loihi2.MAX_DELAY)),
        random_layer(rng, 10, 4, i_decay=0, v_decay=0, vth=3000),
    ))


def net_inhibited(rng):
    # Mostly negative weights, vDecay 0: v clips at -(2**23 - 1); a positive bias
    # keeps neurons firing; an all-inhibitory layer (Lava's inhibitory sign mode).
    return NetxNetwork((
        random_layer(rng, 9, 14, i_decay=512, v_decay=0, vth=200, w=(-256, 60),
                     delays=tuple(range(8)),
              bias=loihi2.BIAS_MANT_MAX),
        random_layer(rng, 14, 8, i_decay=0, v_decay=0, vth=50, w=(-256, -2), bias=3000),
        random_layer(rng, 8, 3, i_decay=2000, v_decay=64, vth=1, w=(-40, 254)),
    ))


def net_typical(rng):
    # slayer-like: trained-range decays, random delays, small scales (weights in
    # [-6, 6]: netx scales them up and Lava shifts the input back). (gradedSpike is
    # refused by every reader: Lava's LIF would ignore it; see test_bad_input.py.)
    return NetxNetwork((
        random_layer(rng, 20, 32, i_decay=1024, v_decay=128, vth=80, delays=tuple(range(63))),
        random_layer(rng, 32, 12, i_decay=1, v_decay=4095, vth=3, w=(-6, 6),
                     delays=tuple(range(20))),
        random_layer(rng, 12, 2, i_decay=3000, v_decay=5, vth=60),
    ))


def net_wide(rng):
    # 300 inputs into strong same-sign rows: synaptic input above 2**15 per step
    # (Lava's a_out is declared 16-bit but not truncated), iDecay 4096.
    w = random_layer(rng, 300, 6, i_decay=FULL, v_decay=2048, vth=100000, w=(80, 254),
                     delays=(0, 1, 2))
    weight = w.weight.copy()
    weight[3] *= -1
    return NetxNetwork((
        DenseLayer(weight=weight, neuron=w.neuron, delay=w.delay),
        random_layer(rng, 6, 2, i_decay=1024, v_decay=0, vth=50),
    ))


@pytest.mark.parametrize("make", [net_extremes, net_inhibited, net_typical, net_wide])
def test_spikes_u_v_match_lava(make, tmp_path) -> None:
    rng = np.random.default_rng(7)
    net = make(rng)
    path = write_netx(net, tmp_path / "net.net")
    X = inputs(rng, net.input_size, 80)
    lava = run_lava(path, X)
    emu = EmulatorBackend().run(path, X, hidden=True, states=True)
    assert np.array_equal(emu.output, lava.output)
    assert len(emu.hidden) == len(lava.hidden) == len(net.layers) - 1
    for ours, theirs in zip(emu.hidden + emu.u + emu.v, lava.hidden + lava.u + lava.v):
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)
    assert all(h.any() for h in lava.hidden) and lava.output.any()  # the check is not vacuous


def test_corners_are_reached(tmp_path) -> None:
    """The networks above do reach the corners they are meant for (emulator only)."""
    rng = np.random.default_rng(7)
    net = net_extremes(rng)
    path = write_netx(net, tmp_path / "a.net")
    emu = EmulatorBackend().run(path, inputs(rng, 20, 80), states=True)
    assert any(np.diff(u.astype(np.int64), axis=-1).min() < -(1 << 23) for u in emu.u)  # u wrapped
    rng = np.random.default_rng(7)
    net = net_inhibited(rng)
    path = write_netx(net, tmp_path / "b.net")
    emu = EmulatorBackend().run(path, inputs(rng, 9, 80), states=True)
    assert any((v == -((1 << 23) - 1)).any() for v in emu.v)  # v clipped


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_match_lava(seed: int, tmp_path) -> None:
    """Spikes of every layer on random networks: sizes, decays, delays, bias by seed."""
    rng = np.random.default_rng(100 + seed)
    sizes = rng.integers(3, 24, size=rng.integers(2, 5))
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        decays = rng.choice([0, FULL, *rng.integers(1, FULL, 4)], size=2)
        layers.append(random_layer(
            rng, int(n_in), int(n_out), i_decay=int(decays[0]), v_decay=int(decays[1]),
            vth=int(rng.integers(1, 400)),
            delays=(None if i == len(sizes) - 2 or rng.random() < 0.2
                    else (0, 1, 5, 30, loihi2.MAX_DELAY)),
            bias=int(rng.choice([0, 0, 100])),
        ))
    net = NetxNetwork(tuple(layers))
    path = write_netx(net, tmp_path / "net.net")
    X = random_spikes(3, net.input_size, 70, float(rng.uniform(0.05, 0.6)), rng)
    lava = LavaCpuBackend().run(path, X, hidden=True)
    emu = get_backend("emulator").run(path, X, hidden=True)
    assert np.array_equal(emu.output, lava.output)
    for ours, theirs in zip(emu.hidden, lava.hidden):
        assert np.array_equal(ours, theirs)


@pytest.fixture(scope="module")
def trained(trained_delay_net):
    """The shared trained network with delays (weights, decays and delays moved)."""
    return trained_delay_net["model"], trained_delay_net["path"]


def test_trained_network_matches_lava_and_slayer(trained) -> None:
    model, path = trained
    X = random_spikes(3, 12, 60, 0.15, seed=4)
    lava = run_lava(path, X)
    emu = EmulatorBackend().run(path, X, hidden=True, states=True)
    with torch.no_grad():
        out, hidden = model(torch.as_tensor(X, dtype=torch.float32), hidden=True)
    for ours, theirs, slayer in zip(emu.hidden + (emu.output,), lava.hidden + (lava.output,),
                                    [*hidden, out]):
        assert np.array_equal(ours, theirs)
        assert np.array_equal(ours, slayer.numpy().astype(np.uint8))
    for ours, theirs in zip(emu.u + emu.v, lava.u + lava.v):
        assert np.array_equal(ours, theirs)
    assert emu.output.any()


def test_trained_network_large_batch_matches_slayer(trained) -> None:
    """Many samples, no Lava: the emulator and slayer's forward pass agree."""
    model, path = trained
    X = random_spikes(200, 12, 60, 0.15, seed=5)
    emu = EmulatorBackend(batch_size=64).run(path, X, hidden=True)
    with torch.no_grad():
        out, hidden = model(torch.as_tensor(X, dtype=torch.float32), hidden=True)
    assert np.array_equal(emu.output, out.numpy().astype(np.uint8))
    for ours, slayer in zip(emu.hidden, hidden):
        assert np.array_equal(ours, slayer.numpy().astype(np.uint8))


# --- the step function, with expected values written out -------------------------

def test_cuba_step_inline_values() -> None:
    p = Cuba(i_decay=1024, v_decay=2048, vth=1000.0)
    u = np.array([6400.0, -5.0, 0.0])
    v = np.array([100.0, -7.0, 990.0])
    a = np.array([0.0, 0.0, 64.0])  # synaptic input 1, << ACT_SHIFT
    u2, v2, s = cuba_step(u, v, a, p)
    # u: 6400 * 3072 / 4096 = 4800; -5 * 0.75 = -3.75 -> -3 (toward zero); 0 + 64
    assert u2.tolist() == [4800, -3, 64]
    # v: 100 / 2 + 4800 = 4850 -> spikes, reset to 0; -7 / 2 -> -3, + -3 = -6; 495 + 64 = 559
    assert s.tolist() == [True, False, False]
    assert v2.tolist() == [0, -6, 559]
    assert u.tolist() == [6400, -5, 0] and v.tolist() == [100, -7, 990]  # inputs untouched


def test_cuba_step_bias_and_decays_0_and_4096() -> None:
    p = Cuba(i_decay=0, v_decay=loihi2.DECAY_SCALE, vth=1e6, bias=np.array([[128.0], [-64.0]]))
    u, v, _ = cuba_step(np.array([[10.0], [10.0]]), np.array([[500.0], [500.0]]),
                        np.array([[64.0], [0.0]]), p)
    assert u.ravel().tolist() == [74, 10]  # iDecay 0: u kept
    assert v.ravel().tolist() == [74 + 128, 10 - 64]  # vDecay 4096: v forgotten, bias added


def test_cuba_step_wraps_u_and_clips_v() -> None:
    half = 1 << (loihi2.STATE_BITS - 1)
    p = Cuba(i_decay=0, v_decay=0, vth=float(half - 64))
    u, v, s = cuba_step(np.array([half - 64.0, 0.0]), np.array([half - 10.0, -half + 2.0]),
                        np.array([128.0, -64.0]), p)
    assert u.tolist() == [half + 64 - 2 * half, -64]  # above 2**23 wraps by 2**24
    assert v.tolist() == [half - 10 + (64 - half), -half + 1]  # v clips at -(2**23 - 1)
    assert not s.any()
    u, _, _ = cuba_step(np.array([half - 64.0]), np.zeros(1), np.array([64.0]), p)
    assert u.tolist() == [half]  # exactly 2**23 stays (Lava wraps only above it)
    u, _, _ = cuba_step(np.array([-half + 64.0]), np.zeros(1), np.array([-64.0]), p)
    assert u.tolist() == [half]  # -2**23 wraps to +2**23


def test_run_neurons_states() -> None:
    p = Cuba(i_decay=FULL, v_decay=0, vth=float(2 << loihi2.ACT_SHIFT))
    a = 64.0 * np.array([1, 1, 1, 0, 0], dtype=np.float64).reshape(1, 5, 1)  # [n, T, B]
    s, u, v = run_neurons(a, p, states=True)
    assert s.ravel().tolist() == [False, False, True, False, False]
    assert u.ravel().tolist() == [64, 64, 64, 0, 0]
    assert v.ravel().tolist() == [64, 128, 0, 0, 0]


@pytest.mark.parametrize("i_decay, v_decay, biased, corners", [
    (0, 0, False, True), (FULL, 1, True, False), (1024, 123, True, False),
    (4000, FULL, False, False)])  # corners: u wraps and v clips somewhere
def test_compiled_neurons_equal_cuba_step(i_decay, v_decay, biased, corners) -> None:
    """run_neurons (numba) is cuba_step stepped through time, including wrap and clip."""
    rng = np.random.default_rng(i_decay + v_decay)
    n, steps, batch = 6, 80, 5
    half = float(loihi2.STATE_WRAP)
    a = np.round(rng.normal(0, half / 6, (n, steps, batch)) / 64) * 64  # reaches both limits
    bias = (rng.integers(-500, 500, (n, 1)) << loihi2.BIAS_EXP).astype(np.float64) \
        if biased else None
    p = Cuba(i_decay=i_decay, v_decay=v_decay, vth=float(half / 4), bias=bias)
    s, u, v = run_neurons(a, p, states=True)
    ref_u, ref_v = np.zeros((n, batch)), np.zeros((n, batch))
    wrapped = clipped = False
    keep = (FULL - i_decay) / FULL
    for t in range(steps):
        wrapped |= bool((np.abs(np.trunc(ref_u * keep) + a[:, t]) > half).any())
        ref_u, ref_v, ref_s = cuba_step(ref_u, ref_v, a[:, t], p)
        assert np.array_equal(s[:, t], ref_s) and np.array_equal(u[:, t], ref_u)
        assert np.array_equal(v[:, t], ref_v)
        clipped |= bool(np.abs(ref_v).max() == float(loihi2.STATE_MAX))
    assert s.any() and (not corners or (wrapped and clipped))  # the corners are reached


@pytest.mark.parametrize("density", [0.02, 0.5])  # the per-event path, then the product
def test_a_layers_sums_per_event_equal_the_matrix_product(density) -> None:
    from spiketime.sim.emulator import EVENT_DENSITY, input_sums

    rng = np.random.default_rng(7)
    weight = rng.integers(loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX + 1, (9, 40)).astype(np.float32)
    X = (rng.random((3, 40, 30)) < density).astype(np.uint8)
    assert (X.mean() < EVENT_DENSITY) == (density < EVENT_DENSITY)
    expected = np.einsum("oi,bit->bto", weight.astype(np.float64), X.astype(np.float64))
    assert np.array_equal(input_sums(weight, X), expected)


# --- behaviour of the backend -------------------------------------------------------

def test_one_step_pipeline_and_delay(tmp_path) -> None:
    """A spike at step t reaches a delay-d neuron at t + 1 + d (Lava's synapse pipeline)."""
    net = NetxNetwork((DenseLayer(weight=np.full((2, 1), 254), neuron=CubaNeuron(FULL, FULL, 100),
                                  delay=np.array([0, 5])),))
    X = np.zeros((1, 1, 12), np.uint8)
    X[0, 0, 2] = 1
    out = EmulatorBackend().run(write_netx(net, tmp_path / "d.net"), X).output[0]
    assert np.flatnonzero(out[0]).tolist() == [3]
    assert np.flatnonzero(out[1]).tolist() == [8]


def test_batch_chunks_do_not_matter(tmp_path) -> None:
    rng = np.random.default_rng(11)
    path = write_netx(net_typical(rng), tmp_path / "t.net")
    X = random_spikes(37, 20, 50, 0.2, rng)
    whole = EmulatorBackend(batch_size=1000).run(path, X, hidden=True, states=True)
    parts = EmulatorBackend(batch_size=5).run(path, X, hidden=True, states=True)
    for a, b in zip(whole.hidden + whole.u + whole.v + (whole.output,),
                    parts.hidden + parts.u + parts.v + (parts.output,)):
        assert np.array_equal(a, b)
    one = EmulatorBackend().run(path, X[3:4], hidden=True)
    assert np.array_equal(one.output[0], whole.output[3])


def test_shapes_and_empty_input(tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = write_netx(net_typical(rng), tmp_path / "t.net")
    res = EmulatorBackend().run(path, np.zeros((0, 20, 30), np.uint8), hidden=True, states=True)
    assert res.output.shape == (0, 2, 30)
    assert [h.shape for h in res.hidden] == [(0, 32, 30), (0, 12, 30)]
    assert [u.shape for u in res.u] == [(0, 32, 30), (0, 12, 30), (0, 2, 30)]
    res = EmulatorBackend().run(path, np.zeros((2, 20, 7), np.uint8))
    assert res.output.shape == (2, 2, 7) and res.output.dtype == np.uint8
    assert res.hidden == () and res.u == () and res.v == ()


def test_bad_input_is_a_user_error(tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = write_netx(net_typical(rng), tmp_path / "t.net")
    emu = EmulatorBackend()
    with pytest.raises(UserError, match="channels"):
        emu.run(path, np.zeros((1, 3, 10), np.uint8))
    with pytest.raises(UserError, match="binary"):
        emu.run(path, np.full((1, 20, 10), 2, np.uint8))
    with pytest.raises(UserError, match="not found"):
        emu.run(tmp_path / "missing.net", np.zeros((1, 20, 10), np.uint8))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int16, np.float32, np.float64])
def test_the_binary_check_takes_every_dtype(dtype, tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = write_netx(net_typical(rng), tmp_path / "t.net")
    X = random_spikes(2, 20, 15, 0.3, rng)
    emu = EmulatorBackend()
    want = emu.run(path, X).output
    assert np.array_equal(emu.run(path, X.astype(dtype)).output, want)
    if dtype is not np.bool_:
        for bad in (2, -1, 0.5):
            if np.dtype(dtype).kind == "u" and bad < 0 or np.dtype(dtype).kind != "f" \
                    and bad == 0.5:
                continue
            Y = X.astype(dtype)
            Y[1, 19, 14] = bad  # the last value of the last sample: a full pass is needed
            with pytest.raises(UserError, match="binary"):
                emu.run(path, Y)


def test_a_backend_reads_a_file_once_until_it_changes(tmp_path, monkeypatch) -> None:
    from spiketime.sim import emulator

    rng = np.random.default_rng(5)
    path = tmp_path / "t.net"
    first, second = net_typical(rng), net_typical(rng)
    write_netx(first, path)
    reads = []
    real = emulator.read_netx
    monkeypatch.setattr(emulator, "read_netx", lambda p: reads.append(p) or real(p))
    X = random_spikes(4, 20, 40, 0.2, rng)
    emu = EmulatorBackend()
    a = emu.run(path, X).output
    assert np.array_equal(emu.run(path, X).output, a) and len(reads) == 1
    write_netx(second, path)  # rewritten (atomically: a new file at the same path)
    b = emu.run(path, X).output
    assert len(reads) == 2 and np.array_equal(b, EmulatorBackend().run(path, X).output)
    assert not np.array_equal(a, b)
    other = write_netx(first, tmp_path / "other.net")  # two files in turn: each read once
    for _ in range(3):
        assert np.array_equal(emu.run(other, X).output, a)
        assert np.array_equal(emu.run(path, X).output, b)
    assert len(reads) == 4  # the two above, the fresh backend's, and other.net's once
    path.unlink()  # gone: refused, not served from memory
    with pytest.raises(UserError, match="not found"):
        emu.run(path, X)


def test_synaptic_overflow_is_refused(tmp_path) -> None:
    """Inputs that could push u past the 24-bit register in one step are not emulated."""
    n_in = (1 << (loihi2.STATE_BITS - loihi2.ACT_SHIFT)) // loihi2.WEIGHT_MAX + 2
    net = NetxNetwork((DenseLayer(weight=np.full((1, n_in), loihi2.WEIGHT_MAX),
                                  neuron=CubaNeuron(FULL, FULL, 100)),))
    path = write_netx(net, tmp_path / "big.net")
    with pytest.raises(UserError, match="layer 0: synaptic input"):
        EmulatorBackend().run(path, np.zeros((1, n_in, 3), np.uint8))
    ok = NetxNetwork((DenseLayer(weight=np.full((1, n_in - 4), loihi2.WEIGHT_MAX),
                                 neuron=CubaNeuron(FULL, FULL, 100)),))
    EmulatorBackend().run(write_netx(ok, tmp_path / "ok.net"), np.ones((1, n_in - 4, 3), np.uint8))


@pytest.mark.parametrize("density", [0.02, 0.5])
@pytest.mark.parametrize("time_major", [False, True])  # the first layer's input, a layer's own
def test_a_layers_sums_arrive_at_each_outputs_lag(density, time_major) -> None:
    from spiketime.sim.emulator import input_sums

    rng = np.random.default_rng(8)
    weight = rng.integers(loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX + 1, (6, 40)).astype(np.float32)
    X = (rng.random((3, 40, 30)) < density).astype(np.uint8)
    if time_major:
        X = np.ascontiguousarray(X.transpose(0, 2, 1)).transpose(0, 2, 1)
    lag = np.array([0, 1, 5, 29, 30, 40])  # at once .. past the last step
    sums = np.einsum("oi,bit->bto", weight.astype(np.float64), X.astype(np.float64))
    expected = np.zeros_like(sums)
    for o, d in enumerate(lag):
        expected[:, d:, o] = sums[:, :max(30 - d, 0), o]
    assert np.array_equal(input_sums(weight, X, lag), expected)
