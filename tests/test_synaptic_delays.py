"""Per-synapse delays end to end: the DCLS-style layer, NetX, the emulator against Lava's
DelayDense, NIR's refusal, the chip check, and recovery of a teacher's delays."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from support import assert_one_line_error, random_layer, random_spikes, run_lava, spiketime

from spiketime import loihi2
from spiketime.deploy.chip_check import check_network
from spiketime.errors import UserError
from spiketime.export.from_slayer import check_architecture, to_netx
from spiketime.export.netx import NetxNetwork, read_netx, write_netx
from spiketime.export.nir_out import to_nir
from spiketime.sim.emulator import EmulatorBackend, compile_network
from spiketime.sim.lava_cpu import LavaCpuBackend
from spiketime.train import kernels
from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.synaptic_delay import (
    SIGMA_END,
    WINDOW_SIGMAS,
    SynapticDelay,
    delayed_input,
    window,
)
from spiketime.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 12-10-3 network with per-synapse delays, trained 4 epochs (2 annealing, 2 exact)."""
    torch.set_num_threads(1)
    cfg = ModelConfig(inputs=12, hidden=(10,), outputs=3, synaptic_delays=True,
                      delay_init_max=40, delay_anneal=0.5, weight_scale=4.0, seed=2)
    model = SpikingNet(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X = random_spikes(48, 12, 80, 0.15, seed=1)
    train(model, X, np.arange(48) % 3, TrainConfig(epochs=4, batch_size=16, lr=0.01,
                                                  delay_lr=1.0, loss="count"))
    path = tmp_path_factory.mktemp("syn") / "trained.net"
    write_netx(to_netx(model, {"task": "test"}), path)
    return {"model": model, "before": before, "path": path}


def test_exact_mode_is_whole_step_delays_of_the_quantized_weights() -> None:
    torch.manual_seed(0)
    weight = torch.randint(-127, 128, (5, 7)).float() * 2 / loihi2.WEIGHT_SCALE
    steps = torch.randint(0, loihi2.MAX_DELAY + 1, (5, 7))
    steps[0, 0], steps[1, 1] = 0, loihi2.MAX_DELAY
    x = (torch.rand(3, 7, 90) < 0.2).float()
    got = delayed_input(x, weight, steps).numpy()
    want = np.zeros((3, 5, 90))
    w, d, s = weight.numpy().astype(np.float64), steps.numpy(), x.numpy()
    for o in range(5):
        for i in range(7):
            want[:, o, d[o, i]:] += w[o, i] * s[:, i, :90 - d[o, i]]
    np.testing.assert_array_equal(got, want)


def test_zero_delays_equal_slayers_dense_block() -> None:
    model = SpikingNet(ModelConfig(inputs=6, hidden=(), outputs=4, synaptic_delays=True,
                                   weight_scale=4.0, seed=1)).eval()
    with torch.no_grad():
        model.blocks[0].synaptic_delay.position.zero_()
    plain = SpikingNet(ModelConfig(inputs=6, hidden=(), outputs=4, weight_scale=4.0, seed=1))
    plain.eval()
    x = torch.as_tensor(random_spikes(4, 6, 50, 0.3, seed=2), dtype=torch.float32)
    with torch.no_grad():
        out = model(x)
        assert out.sum() > 0
        torch.testing.assert_close(out, plain(x), rtol=0, atol=0)


def test_width_anneals_from_start_to_end_then_positions_round() -> None:
    delay = SynapticDelay(3, 4, 20.0, sigma_start=6.0, anneal=0.5)
    widths = []
    for epoch in range(10):
        delay.on_epoch(epoch, 10)
        widths.append(float(delay.sigma))
    assert widths[0] == 6.0 and widths[4] == pytest.approx(SIGMA_END)
    assert all(a > b for a, b in zip(widths[:4], widths[1:5])) and widths[5:] == [0.0] * 5
    delay.on_epoch(0, 10)
    assert not delay.exact and delay.eval().exact  # evaluation is always exact
    x, w = torch.ones(1, 4, 30), torch.ones(3, 4)
    delay.train()
    delay(x, w).sum().backward()
    assert delay.position.grad.abs().sum() > 0  # the Gaussian gives positions a gradient


@pytest.mark.parametrize("sigma", [4.0, 0.7])
def test_window_is_the_normalised_gaussian_within_three_widths(sigma) -> None:
    position = torch.tensor([[0.2, 30.6, loihi2.MAX_DELAY - 0.1]])
    lo, share = window(position, sigma)
    half = int(np.ceil(WINDOW_SIGMAS * sigma))
    assert share.shape[-1] == 2 * half + 1
    assert lo.tolist() == [[0 - half, 31 - half, loihi2.MAX_DELAY - half]]
    torch.testing.assert_close(share.sum(-1), torch.ones(1, 3))
    delays = lo[..., None] + torch.arange(2 * half + 1)
    outside = (delays < 0) | (delays > loihi2.MAX_DELAY)
    assert outside.any() and share[outside].eq(0).all()  # nothing lands off the chip's range
    want = torch.exp(-0.5 * ((delays[0, 1] - 30.6) / sigma) ** 2)
    torch.testing.assert_close(share[0, 1], want / want.sum())
    tiny = window(torch.tensor([[10.3, 10.45]]), 0.02)[1]  # no width underflows every tap
    assert torch.isfinite(tiny).all() and tiny.sum(-1).eq(1).all()
    lo0, share0 = window(position, 0.0)  # exact: one tap of exactly 1 at round(p)
    assert lo0.tolist() == [[0, 31, loihi2.MAX_DELAY]] and share0.eq(1).all()


@pytest.mark.parametrize("sigma", [4.0, 1.3, 0.0])
def test_compiled_sums_equal_the_conv1d_and_their_gradients(sigma) -> None:
    """The compiled windowed sums against the reference conv1d over all 63 taps: equal
    (exact arithmetic) with one tap, within float rounding while the width is a Gaussian;
    gradients of the weights, positions and input within float tolerance."""
    torch.manual_seed(4)
    delay = SynapticDelay(9, 11, 62.0, sigma_start=max(sigma, 1.0), anneal=1.0)
    with torch.no_grad():
        delay.position[0, :3] = torch.tensor([0.0, 0.4, float(loihi2.MAX_DELAY)])  # edges
    delay.sigma.fill_(sigma)
    weight = (torch.randint(-127, 128, (9, 11)).float() * 2 / loihi2.WEIGHT_SCALE)
    x = (torch.rand(5, 11, 70) < 0.25).float()
    results = []
    for path in ("reference", "compiled"):
        w = weight.clone().requires_grad_()
        xi = x.clone().requires_grad_()
        delay.zero_grad()
        z = delay(xi, w) if path == "reference" \
            else delay.compiled(xi.transpose(1, 2), w).transpose(1, 2)
        (z * torch.linspace(-1, 1, 70)).sum().backward()
        grad_p = None if delay.position.grad is None else delay.position.grad.clone()
        results.append((z.detach(), w.grad, xi.grad, grad_p))
    (z0, w0, x0, p0), (z1, w1, x1, p1) = results
    assert z0.abs().sum() > 0
    if sigma == 0.0:
        assert torch.equal(z0, z1) and p0 is None and p1 is None  # whole steps: exact, no p
    else:
        torch.testing.assert_close(z1, z0, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(p1, p0, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w1, w0, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x1, x0, rtol=1e-4, atol=1e-5)


def test_network_paths_agree_on_spikes_and_gradients(monkeypatch) -> None:
    """A whole per-synapse-delay network on the compiled path and on slayer's own
    (SPIKETIME_KERNELS=slayer): the same spikes on every layer in training (annealing and
    exact) and evaluation, gradients within float tolerance."""
    config = ModelConfig(inputs=30, hidden=(16, 12), outputs=4, synaptic_delays=True, seed=3)
    monkeypatch.setenv(kernels.ENV, "slayer")
    slow = SpikingNet(config)
    assert all(b.spec is None for b in slow.blocks)
    monkeypatch.delenv(kernels.ENV)
    fast = SpikingNet(config)
    fast.load_state_dict(slow.state_dict())
    x = torch.as_tensor(random_spikes(6, 30, 80, 0.1, seed=5), dtype=torch.float32)
    for epoch in (0, 9):  # width 4 (annealing), then exact
        outs = []
        for model in (slow, fast):
            model.train()
            model.on_epoch(epoch, 10)
            model.zero_grad()
            out, hidden = model(x, hidden=True)
            (out.sum() + sum(h.mean() for h in hidden)).backward()
            outs.append((out, hidden, [p.grad for p in model.parameters()]))
        (a, ha, ga), (b, hb, gb) = outs
        assert a.sum() > 0 and torch.equal(a, b)
        assert all(torch.equal(u, v) for u, v in zip(ha, hb))
        for u, v in zip(ga, gb):
            assert (u is None) == (v is None)
            if u is not None:
                assert torch.allclose(u, v, rtol=1e-4, atol=1e-5 * (float(u.abs().max()) or 1.0))
    with torch.no_grad():
        assert torch.equal(slow.eval()(x), fast.eval()(x))


def test_both_delay_kinds_are_refused() -> None:
    with pytest.raises(UserError, match="exclusive"):
        ModelConfig(inputs=2, hidden=(3,), outputs=2, delays=True, synaptic_delays=True)


def test_training_moves_positions_and_exports_weight_shaped_delays(trained) -> None:
    model, before = trained["model"], trained["before"]
    after = model.state_dict()
    for i in (0, 1):
        assert not torch.equal(before[f"blocks.{i}.synaptic_delay.position"],
                               after[f"blocks.{i}.synaptic_delay.position"])
        assert float(after[f"blocks.{i}.synaptic_delay.sigma"]) == 0.0  # annealed
    net = read_netx(trained["path"])
    for layer, block in zip(net.layers, model.blocks):
        assert layer.synaptic_delays and layer.delay.shape == layer.weight.shape
        np.testing.assert_array_equal(layer.delay, block.synaptic_delay.steps().numpy())
    assert len(np.unique(net.layers[0].delay)) > 10
    check_architecture(model, net, "model", "file")  # the same network


def test_netx_builds_delay_dense_from_the_matrix(trained) -> None:
    from lava.lib.dl import netx
    from lava.proc.dense.process import DelayDense

    with contextlib.redirect_stdout(io.StringIO()):
        lava_net = netx.hdf5.Network(net_config=str(trained["path"]))
    ours = read_netx(trained["path"])
    for block, layer in zip(lava_net.layers, ours.layers):
        assert isinstance(block.synapse, DelayDense)
        np.testing.assert_array_equal(block.synapse.delays.init, layer.delay)


def test_trained_equals_emulator_equals_lava_hidden_and_output(trained) -> None:
    model, path = trained["model"], trained["path"]
    X = random_spikes(4, 12, 80, 0.2, seed=7)
    with torch.no_grad():
        out, hidden = model(torch.as_tensor(X, dtype=torch.float32), hidden=True)
    want = [h.numpy().astype(np.uint8) for h in (*hidden, out)]
    assert all(w.sum() > 0 for w in want)
    for backend in (EmulatorBackend(), LavaCpuBackend()):
        got = backend.run(path, X, hidden=True)
        for g, w in zip((*got.hidden, got.output), want):
            np.testing.assert_array_equal(g, w, err_msg=backend.name)


def test_emulator_equals_lava_delay_dense_on_delays_0_to_62(tmp_path) -> None:
    """Spikes, u and v, every layer; layer 1's small weights make netx shift by 3 bits;
    layer 2's odd inhibitory weights leave Lava's weights off the multiples of its shift,
    so each delay slot's floor acts (the emulator's slot-by-slot path; the others add
    spike by spike)."""
    rng = np.random.default_rng(4)
    layers = []
    for n_in, n_out, w in ((8, 10, (-60, 200)), (10, 4, (-20, 30))):
        layer = random_layer(rng, n_in, n_out, i_decay=1024, v_decay=128, vth=40 if w[1] < 50
                             else 100, w=w)
        delay = rng.integers(0, loihi2.MAX_DELAY + 1, size=(n_out, n_in))
        delay[0, 0], delay[-1, -1] = 0, loihi2.MAX_DELAY
        layers.append(replace(layer, delay=delay))
    odd = [[0, -2, -2, -1], [-2, -1, 0, -2], [-2, -2, 0, -1]]  # Lava: -192, -128 at shift 7
    inhibitory = replace(layers[1], weight=np.array(odd),
                         delay=rng.integers(0, loihi2.MAX_DELAY + 1, size=(3, 4)))
    layers.append(replace(inhibitory, neuron=replace(inhibitory.neuron, vth_mant=1)))
    net = NetxNetwork(tuple(layers))
    compiled = compile_network(net)
    assert [bool(np.fmod(c.weight, 1 << c.shift).any()) for c in compiled] == [False, False,
                                                                                 True]
    path = write_netx(net, tmp_path / "syn.net")
    X = random_spikes(2, 8, 130, 0.2, seed=5)
    emu = EmulatorBackend().run(path, X, hidden=True, states=True)
    lava = run_lava(path, X)
    assert emu.hidden[0].sum() > 0 and emu.hidden[1].sum() > 0  # the output layer only inhibits
    for got, want in zip((*lava.hidden, lava.output), (*emu.hidden, emu.output)):
        np.testing.assert_array_equal(got, want)
    assert emu.u[2].min() < 0  # the inhibitory layer's input arrived
    for a, b in zip((*lava.u, *lava.v), (*emu.u, *emu.v)):
        np.testing.assert_array_equal(a, b)


def test_nir_holds_delays_constant_per_neuron_and_refuses_others(trained) -> None:
    net = read_netx(trained["path"])
    with pytest.raises(UserError, match="per-synapse delays"):
        to_nir(net, 1.0)
    per_neuron = [replace(lay, delay=np.repeat(np.arange(lay.out_features)[:, None],
                                               lay.in_features, axis=1)) for lay in net.layers]
    graph = to_nir(NetxNetwork(tuple(per_neuron)), 1.0)
    np.testing.assert_array_equal(graph.nodes["delay_0"].delay,
                                  np.arange(net.layers[0].out_features) * 1e-3)


def test_chip_check_counts_the_delay_field_per_synapse(trained) -> None:
    report = check_network(read_netx(trained["path"]))
    for layer in report.layers:
        assert layer.delay_bits == loihi2.DELAY_BITS  # delays up to 40: all 6 bits
        assert layer.synaptic_bits_per_neuron == layer.fan_in * (layer.weight_bits
                                                                 + loihi2.DELAY_BITS)


def test_cli_refuses_nir_export_and_a_misshapen_delay_matrix(trained, tmp_path) -> None:
    proc = spiketime("export", trained["path"], "--format", "nir", "--dt", "1",
                     "--out", tmp_path / "m.nir")
    assert_one_line_error(proc, "per-synapse delays", "NIR")
    assert not (tmp_path / "m.nir").exists()
    import h5py

    bad = tmp_path / "bad.net"
    bad.write_bytes(Path(trained["path"]).read_bytes())
    with h5py.File(bad, "r+") as f:
        del f["layer/0/delay"]
        f["layer/0/delay"] = np.zeros((10, 5), np.int32)
    assert_one_line_error(spiketime("check", bad), "weight's shape")


def _recovery_script():
    spec = importlib.util.spec_from_file_location("delay_recovery",
                                                  ROOT / "scripts" / "delay_recovery.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_student_recovers_a_teachers_delays() -> None:
    """32 synapses, delays 0..20: chance of landing within one step is about 3/21."""
    torch.set_num_threads(1)
    r = _recovery_script().recover(seed=0)
    assert r.teacher_spikes > 5  # the labels carry spikes
    assert r.initial_within_one < 0.3
    assert r.within_one >= 0.75 and r.exact > r.initial_within_one


def test_pipeline_and_compare_accept_per_synapse_delays(tmp_path) -> None:
    out = tmp_path / "run"
    proc = spiketime("pipeline", "--out", out, "--models", "tau+syndelay", "--samples-per-class",
                     "6", "--epochs", "2", "--hidden", "6", "--steps", "60", "--confirm-lava", "2")
    assert proc.returncode in (0, 3), proc.stderr  # 3: INCONCLUSIVE, a tiny network's evidence
    report = json.loads((out / "report.json").read_text())
    [model] = report["models"]
    assert model["name"] == "tau+syndelay" and model["spike_exact_fraction"] == 1.0
    assert all(c["identical"] for c in model["confirm"])  # Lava's spikes are the emulator's
    net = read_netx(out / model["netx"])
    assert all(layer.synaptic_delays for layer in net.layers)
    assert (out / "tau_syndelay" / "delays.png").read_bytes()[:4] == b"\x89PNG"
    proc = spiketime("compare", "--model", out / model["checkpoint"], "--netx", out / model["netx"],
                     "--data", out / "data.h5", "--backends", "emulator", "--allow-degenerate",
                     "--out", tmp_path / "compare", "--jitter", "2", "--neuron-jitter", "none",
                     "--deletion", "0.2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "parity PASSED" in proc.stdout
    assert_one_line_error(spiketime("pipeline", "--out", tmp_path / "x", "--models", "tau,tau+x"),
                          "tau+syndelay")


def test_learned_delays_plot_initial_and_final(trained, tmp_path) -> None:
    from spiketime.parity.delay_plot import initial_and_final, plot_learned_delays

    layers = initial_and_final(trained["model"])
    assert sorted(layers) == [0, 1]
    start, final = layers[0]
    assert start.shape == final.shape == (10, 12) and not np.array_equal(start, final)
    path = plot_learned_delays({"tau+syndelay": trained["model"]}, tmp_path / "d.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    plain = SpikingNet(ModelConfig(inputs=3, hidden=(2,), outputs=2))
    assert plot_learned_delays({"tau": plain}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
