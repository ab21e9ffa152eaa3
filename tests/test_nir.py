"""NIR in and out: exact round trips, the quantizer's choices, refusals, and parity verdicts.

The network for the verdicts is built by hand to read timing: inputs come in two groups
(A: channels 0-3, B: 4-7); class 0 sees A then B 10 steps later, class 1 the reverse.
Hidden neurons detect each group, two of them behind a 10-step axonal delay, and each
output neuron detects the coincidence of a delayed group with the other. So its
decisions depend on the weights' signs, the threshold's scale and the delays: each
broken conversion must turn PASSED into FAILED.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from support import assert_one_line_error, call

from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, read_netx, write_netx
from spiketime.export.nir_graph import chain, read_nir
from spiketime.export.nir_in import quantize
from spiketime.export.nir_out import to_nir, write_nir
from spiketime.parity.comparison import CompareConfig, ModelSpec, run_compare
from spiketime.parity.layer_agreement import nir_vs_netx
from spiketime.sim.emulator import EmulatorBackend
from spiketime.sim.nir_reference import NirReference

nir = pytest.importorskip("nir")

LAG = 10  # steps between the two groups, and the hidden delay that detects it
STEPS = 100


def timing_net() -> NetxNetwork:
    """8 inputs -> 4 group detectors (A, A delayed, B, B delayed) -> 2 coincidence outputs."""
    a, b = [1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]
    hidden = DenseLayer(weight=np.array([a, a, b, b]) * 60 - np.array([b, b, a, a]) * 20,
                        neuron=CubaNeuron(i_decay=2048, v_decay=2048, vth_mant=180),
                        delay=np.array([0, LAG, 0, LAG]))
    # output 0: A delayed with B (A came first); output 1: B delayed with A
    out = DenseLayer(weight=np.array([[0, 100, 100, 0], [100, 0, 0, 100]]),
                     neuron=CubaNeuron(i_decay=2048, v_decay=1024, vth_mant=180),
                     bias=np.array([-2, -2]))
    return NetxNetwork((hidden, out), {"model": "timing", "dt_ms": 1.0})


def timing_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n samples: three group events each (class 0: A then B; class 1: B then A), plus noise."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 8, STEPS)) < 0.01).astype(np.uint8)
    y = np.arange(n) % 2
    for k in range(n):
        first, second = (slice(0, 4), slice(4, 8)) if y[k] == 0 else (slice(4, 8), slice(0, 4))
        for t in rng.choice(np.arange(5, STEPS - LAG - 20, 20), size=3, replace=False):
            X[k, first, t] = 1
            X[k, second, t + LAG] = 1
    return X, y


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("nir")
    net = timing_net()
    write_netx(net, d / "model.net")
    write_nir(to_nir(net, 1.0), d / "model.nir")
    X, y = timing_data(240, seed=1)
    meta = DatasetMeta(task="timing", variant="test", dt_ms=1.0, class_names=["AB", "BA"])
    save_dataset(Dataset(train=Split(X[:40], y[:40]), test=Split(X[40:], y[40:]), meta=meta),
                 d / "data.h5")
    return d


# --- conversion -------------------------------------------------------------------------


def _same(a: NetxNetwork, b: NetxNetwork) -> None:
    assert len(a.layers) == len(b.layers)
    for x, z in zip(a.layers, b.layers):
        assert np.array_equal(x.weight, z.weight)
        assert x.neuron == z.neuron
        for name in ("delay", "bias"):
            u, v = getattr(x, name), getattr(z, name)
            assert (u is None or not u.any()) == (v is None or not v.any())
            if u is not None and u.any():
                assert np.array_equal(u, v)


def test_netx_nir_netx_round_trip_is_exact(files, tmp_path, capsys):
    done = call(capsys, "export", files / "model.net", "--format", "nir", "--out",
                tmp_path / "m.nir")
    assert done.returncode == 0, done.stderr
    done = call(capsys, "import", tmp_path / "m.nir", "--out", tmp_path / "back.net")
    assert done.returncode == 0, done.stderr
    assert "(native scale)" in done.stdout and "RMS weight error 0.000%" in done.stdout
    back = read_netx(tmp_path / "back.net")
    _same(timing_net(), back)
    assert back.metadata["dt_ms"] == 1.0


def test_nir_parameters_follow_the_integers(files):
    graph = nir.read(files / "model.nir")
    assert float(graph.metadata["dt"]) == pytest.approx(1e-3)
    cuba, delay = graph.nodes["cuba_0"], graph.nodes["delay_0"]
    np.testing.assert_allclose(cuba.tau_syn, 2e-3)  # dt * 4096 / 2048
    np.testing.assert_allclose(cuba.v_threshold, 180 / 64)
    np.testing.assert_allclose(graph.nodes["linear_0"].weight[0, :2], [60 / 64, 60 / 64])
    np.testing.assert_allclose(delay.delay, [0, LAG * 1e-3, 0, LAG * 1e-3])
    assert "delay_1" not in graph.nodes  # no Delay node where every delay is 0
    # bias -2 per step at vDecay 1024: v_leak * dt / tau_mem = -2 / 64
    np.testing.assert_allclose(graph.nodes["cuba_1"].v_leak * 1024 / 4096, -2 / 64)


def test_reference_steps_nir_equations():
    """One CubaLIF neuron, one input spike at step 0, weight 1, dt 1 ms, tau_syn 2 ms,
    tau_mem 4 ms, w_in 2, r 4: I = 0.5 I + 1 * x[t-1], v = 0.75 v + 1 * I."""
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=np.array([[1.0]])),
        nir.CubaLIF(tau_syn=np.array([2e-3]), tau_mem=np.array([4e-3]), r=np.array([4.0]),
                    v_leak=np.array([0.0]), v_threshold=np.array([2.0]), w_in=np.array([2.0]),
                    v_reset=np.array([0.0])))
    X = np.zeros((1, 1, 6), np.uint8)
    X[0, 0, 0] = 1
    ref = NirReference(chain(graph), 1.0)
    # I: 0, 1, .5, .25, .125, ...; v: 0, 1, 1.25, 1.1875, ...: never above 2
    assert ref.run_layers(X)[0].sum() == 0
    X[0, 0, 1] = 1  # I: 0, 1, 1.5, .75; v: 0, 1, 2.25 -> spike at step 2, then reset
    assert ref.run_layers(X)[0][0, 0].tolist() == [0, 0, 1, 0, 0, 0]


def test_import_picks_least_error_scale_and_says_so(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (5, 4))
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=w),
        nir.LIF(tau=np.full(5, 5e-3), r=np.full(5, 5.0), v_leak=np.zeros(5),
                v_threshold=np.full(5, 1.0), v_reset=np.zeros(5)))
    net, choices, _ = quantize(chain(graph), 1.0)
    (c,) = choices
    assert not c.native and c.i_decay == 4096 and c.v_decay == round(4096 / 5)
    assert max(abs(c.weight_range[0]), c.weight_range[1]) > 200  # the 8-bit range is used
    # the error it reports is the error it left, and no tried scale did better
    q = net.layers[0].weight / c.vth_mant
    err = np.sqrt(np.mean((q - w) ** 2)) / np.sqrt(np.mean(w ** 2))
    assert c.weight_error == pytest.approx(err) and err < 0.01
    for v in (c.vth_mant - 1, c.vth_mant // 2, 64):
        other = np.round(w * v / 2) * 2 / v
        assert np.sqrt(np.mean((other - w) ** 2)) / np.sqrt(np.mean(w ** 2)) >= err - 1e-12


# --- refusals ---------------------------------------------------------------------------


def _write(graph, path):
    nir.write(path, graph)
    return path


def _cuba(n, **over):
    p = dict(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 4e-3), r=np.full(n, 4.0),
             v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.full(n, 2.0),
             v_reset=np.zeros(n))
    return nir.CubaLIF(**(p | over))


def _chain(*nodes):
    g = nir.NIRGraph.from_list(*nodes, type_check=False)
    g.metadata = {"dt": 1e-3}
    return g


def _bad_graphs():
    lin = nir.Linear(weight=np.ones((3, 2)))
    cycle = _chain(lin, _cuba(3))
    cycle.edges.append(("cubalif", "linear"))
    branch = _chain(lin, _cuba(3))
    branch.nodes["side"] = _cuba(3)
    branch.edges += [("linear", "side"), ("side", "output")]
    conv = _chain(nir.Conv1d(input_shape=5, weight=np.ones((2, 1, 3)), stride=1, padding=0,
                             dilation=1, groups=1, bias=np.zeros(2)), _cuba(2))
    return {
        "cycle": (cycle, "cycle"),
        "branch": (branch, "single chains"),
        "conv": (conv, "Conv1d"),
        "shapes": (_chain(lin, _cuba(3), nir.Linear(weight=np.ones((2, 4))), _cuba(2)),
                   "expects 4 inputs but receives 3"),
        "misplaced": (_chain(lin, nir.Linear(weight=np.ones((2, 3))), _cuba(2)),
                      "out of place"),
        "long delay": (_chain(lin, _cuba(3), nir.Delay(delay=np.full(3, 0.07))),
                       "delay 70 is outside [0, 62]"),
        "per-neuron tau": (_chain(lin, _cuba(3, tau_syn=np.array([2e-3, 3e-3, 2e-3]))),
                           "differs between neurons"),
        "affine bias": (_chain(nir.Affine(weight=np.ones((3, 2)), bias=np.ones(3)), _cuba(3)),
                        "Affine bias"),
        "v_reset": (_chain(lin, _cuba(3, v_reset=np.full(3, 0.5))), "v_reset"),
        "weight beyond 254 thresholds": (_chain(nir.Linear(weight=np.full((3, 2), 300.0)),
                                                _cuba(3)), "weight 300 is outside [-256, 254]"),
        "tau below dt": (_chain(lin, _cuba(3, tau_mem=np.full(3, 5e-4))),
                         "vDecay 8192 is outside [0, 4096]"),
    }


@pytest.mark.parametrize("case", list(_bad_graphs()))
def test_import_refuses_what_it_cannot_deploy(case, tmp_path, capsys):
    graph, fragment = _bad_graphs()[case]
    path = _write(graph, tmp_path / "bad.nir")
    done = call(capsys, "import", path, "--out", tmp_path / "out.net")
    assert_one_line_error(done, fragment)
    assert done.returncode == 2 and not (tmp_path / "out.net").exists()


def test_clip_clips_long_delays_and_says_so(tmp_path, capsys):
    graph, _ = _bad_graphs()["long delay"]
    done = call(capsys, "import", _write(graph, tmp_path / "g.nir"), "--out", tmp_path / "o.net",
                "--clip")
    assert done.returncode == 0, done.stderr
    assert "clipped: layer 0 delay" in done.stderr
    assert read_netx(tmp_path / "o.net").layers[0].delay.tolist() == [62, 62, 62]


def test_bad_files_get_one_line(files, tmp_path, capsys):
    text = tmp_path / "text.nir"
    text.write_text("not hdf5")
    other = tmp_path / "other.nir"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    future = tmp_path / "future.nir"
    future.write_bytes((files / "model.nir").read_bytes())
    with h5py.File(future, "a") as f:
        del f["version"]
        f["version"] = "2.0.0"
    no_dt = _chain(nir.Linear(weight=np.ones((3, 2))), _cuba(3))
    no_dt.metadata = {}
    cases = [(text, "not an HDF5 file"), (other, "not a NIR graph"),
             (future, "NIR version 2.0.0"), (_write(no_dt, tmp_path / "nodt.nir"), "--dt")]
    for path, fragment in cases:
        assert_one_line_error(call(capsys, "import", path, "--out", tmp_path / "o.net"),
                              fragment)
    assert not (tmp_path / "o.net").exists()
    decay0 = replace(timing_net(), layers=(replace(timing_net().layers[0], neuron=CubaNeuron(
        0, 2048, 180)), timing_net().layers[1]))
    write_netx(decay0, tmp_path / "d0.net")
    assert_one_line_error(call(capsys, "export", tmp_path / "d0.net", "--format", "nir",
                               "--out", tmp_path / "d0.nir"), "iDecay is 0")
    assert not (tmp_path / "d0.nir").exists()


# --- parity across the conversion ---------------------------------------------------------

BROKEN = {
    "wrong sign": lambda net: replace(net, layers=tuple(
        replace(lay, weight=-lay.weight) for lay in net.layers)),
    "threshold not scaled": lambda net: replace(net, layers=tuple(
        replace(lay, neuron=replace(lay.neuron, vth_mant=lay.neuron.vth_mant // 64))
        for lay in net.layers)),
    "delays dropped": lambda net: replace(net, layers=tuple(
        replace(lay, delay=None) for lay in net.layers)),
}
LEVELS = {"jitter": (1.0,), "neuron_jitter": (), "deletion": (0.1,)}


def _config(files, netx, out, tolerance=5.0):
    return CompareConfig(models=(ModelSpec("timing", None, netx, nir=files / "model.nir"),),
                         data=files / "data.h5", out=out, backends=("emulator",),
                         tolerance_pp=tolerance, levels=LEVELS, resamples=500, exact=False)


def test_compare_round_trip_passes_with_layer_table(files, tmp_path, capsys):
    call(capsys, "import", files / "model.nir", "--out", tmp_path / "back.net")
    done = call(capsys, "compare", "--nir", files / "model.nir", "--netx", tmp_path / "back.net",
                "--data", files / "data.h5", "--backends", "emulator", "--tolerance", "5",
                "--jitter", "1", "--neuron-jitter", "none", "--deletion", "0.1",
                "--resamples", "500", "--out", tmp_path / "cmp")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "parity PASSED" in done.stdout
    table = (tmp_path / "cmp" / "layers.md").read_text()
    assert "layer 0 (linear_0, cuba_0, delay_0)" in table and "layer 1" in table
    assert (tmp_path / "cmp" / "report.json").exists()


@pytest.mark.parametrize("bug", list(BROKEN))
def test_broken_conversion_fails(bug, files, tmp_path):
    write_netx(BROKEN[bug](timing_net()), tmp_path / "broken.net")
    report, _ = run_compare(_config(files, tmp_path / "broken.net", tmp_path / "cmp"))
    assert report.parity.decision.verdict == "FAILED", report.parity.decision


def test_layer_table_shows_where_delays_were_lost(files, tmp_path):
    write_netx(BROKEN["delays dropped"](timing_net()), tmp_path / "broken.net")
    ref = NirReference(read_nir(files / "model.nir"), 1.0)
    X, _ = timing_data(20, seed=5)
    good, bad = nir_vs_netx(ref, files / "model.net", X), nir_vs_netx(ref, tmp_path / "broken.net",
                                                                        X)
    assert good[0].agreement > 0.95 and good[1].agreement > 0.9
    assert bad[0].agreement < 0.7 and bad[0].first_difference is not None


# --- graphs written by other frameworks -------------------------------------------------
# Both build the same small network by hand: group detectors (A: inputs 0-3, B: 4-7), then
# a vote; weights jittered off the chip's grid. The data: which group fires more.

GROUPS = np.array([1.0, 1, 1, 1, 0, 0, 0, 0])
VOTE = np.array([[0.6, 0.6, -0.3, -0.3], [-0.3, -0.3, 0.6, 0.6]])


def _vote_weights() -> tuple[np.ndarray, np.ndarray]:
    a, b, rng = GROUPS, 1 - GROUPS, np.random.default_rng(0)
    w0 = np.stack([a, a, b, b]) * 0.45 - np.stack([b, b, a, a]) * 0.2
    return w0 + rng.normal(0, 0.03, w0.shape), VOTE + rng.normal(0, 0.03, VOTE.shape)


def _judge(graph: Path, dt_ms: float, tmp_path: Path, capsys) -> str:
    """Import `graph` at `dt_ms`, compare it on the rate task; returns import's stdout."""
    y = np.arange(240) % 2  # which group fires more: 0.09 vs 0.05 per step
    rate = np.where(y[:, None] == 0, [0.09] * 4 + [0.05] * 4, [0.05] * 4 + [0.09] * 4)
    X = (np.random.default_rng(1).random((240, 8, 60)) < rate[:, :, None]).astype(np.uint8)
    meta = DatasetMeta(task="rate", variant="test", dt_ms=dt_ms, class_names=["A", "B"])
    save_dataset(Dataset(train=Split(X[:40], y[:40]), test=Split(X[40:], y[40:]), meta=meta),
                 tmp_path / "rate.h5")
    done = call(capsys, "import", graph, "--out", tmp_path / "net.net", "--dt", dt_ms)
    assert done.returncode == 0, done.stderr
    judged = call(capsys, "compare", "--nir", graph, "--netx", tmp_path / "net.net",
                  "--data", tmp_path / "rate.h5", "--backends", "emulator", "--tolerance", "5",
                  "--jitter", "1", "--neuron-jitter", "none", "--deletion", "0.1",
                  "--resamples", "500", "--out", tmp_path / "cmp")
    assert judged.returncode == 0 and "parity PASSED" in judged.stdout, judged.stdout
    return done.stdout


def test_snntorch_graph_imports_deploys_and_passes(tmp_path, capsys):
    """snnTorch 1.0 writes Linear -> Synaptic as Linear + CubaLIF nodes at its own dt of
    0.1 ms (tau = dt / (1 - alpha)) and records no dt, so the import is given it."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch", reason="snnTorch is an optional test extra "
                                                 "(pyproject nir-frameworks)")
    pytest.importorskip("nirtorch", reason="snnTorch's NIR export needs nirtorch")
    from snntorch.export_nir import export_to_nir

    w0, w1 = _vote_weights()
    lin0, lin1 = torch.nn.Linear(8, 4, bias=False), torch.nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        lin0.weight[:] = torch.tensor(w0)
        lin1.weight[:] = torch.tensor(w1)

    def synaptic(n: int, **kw):
        full = lambda v: torch.full((n,), v)  # noqa: E731 (per-neuron values give NIR shapes)
        return snn.Synaptic(alpha=full(0.5), beta=full(0.75), threshold=full(1.0),
                            init_hidden=True, **kw)

    model = torch.nn.Sequential(lin0, synaptic(4), lin1, synaptic(2, output=True))
    nir.write(tmp_path / "snn.nir", export_to_nir(model, torch.zeros(8)))
    said = _judge(tmp_path / "snn.nir", 0.1, tmp_path, capsys)
    assert "iDecay 2048, vDecay 1024" in said  # 1 - alpha, 1 - beta of 4096
    assert "native scale" not in said  # snnTorch's weights are off the chip's grid


def test_rockpool_graph_imports_deploys_and_passes(tmp_path, capsys):
    """Rockpool 3.1 writes LinearTorch -> LIFTorch as Linear + CubaLIF nodes (weights
    transposed to [out, in], r = 3.12, inputs shaped [1, n]); its dt is the import's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("rockpool", reason="Rockpool is an optional test extra "
                                           "(pyproject nir-frameworks)")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch, to_nir

    def lif(n: int):
        return LIFTorch(n, tau_mem=0.004, tau_syn=0.002, dt=1e-3)

    model = Sequential(LinearTorch((8, 4)), lif(4), LinearTorch((4, 2)), lif(2))
    w0, w1 = _vote_weights()  # x2.5: Rockpool's per-step input gain is 0.5 * 0.78
    model[0].weight.data = torch.tensor(w0.T * 2.5, dtype=torch.float32)
    model[2].weight.data = torch.tensor(w1.T * 2.5, dtype=torch.float32)
    nir.write(tmp_path / "rp.nir", to_nir(model))
    said = _judge(tmp_path / "rp.nir", 1.0, tmp_path, capsys)
    assert "iDecay 2048, vDecay 1024" in said  # dt / tau of 4096, forward Euler


def test_norse_graph_imports_deploys_and_passes(tmp_path, capsys):
    """Norse 1.1 writes Linear -> LIFCell as Affine (zero bias) + CubaLIF nodes, with time
    constants scaled by its dt of 1 ms (tau_syn 2e-6 for tau_syn_inv 500 /s): the import at
    --dt 0.001 ms gives Norse's per-step decays."""
    torch = pytest.importorskip("torch")
    nt = pytest.importorskip("norse.torch", reason="Norse is an optional test extra "
                                                   "(pyproject nir-frameworks)")

    def cell(n: int):
        full = lambda v: torch.full((n,), v)  # noqa: E731
        return nt.LIFCell(nt.LIFParameters(tau_syn_inv=full(500.0), tau_mem_inv=full(250.0),
                                           v_th=full(1.0), v_leak=full(0.0), v_reset=full(0.0)))

    w0, w1 = _vote_weights()
    lin0, lin1 = torch.nn.Linear(8, 4, bias=False), torch.nn.Linear(4, 2, bias=False)
    with torch.no_grad():  # x8: the NIR reading's per-step gain is 0.5 * 0.25
        lin0.weight[:] = torch.tensor(w0 * 8)
        lin1.weight[:] = torch.tensor(w1 * 8)
    model = nt.SequentialState(lin0, cell(4), lin1, cell(2))
    nir.write(tmp_path / "norse.nir", nt.to_nir(model, torch.zeros(1, 8)))
    said = _judge(tmp_path / "norse.nir", 0.001, tmp_path, capsys)
    assert "iDecay 2048, vDecay 1024" in said


def test_checkpoint_exports_to_nir_and_imports_to_the_same_integers(tmp_path, capsys):
    from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint

    model = SpikingNet(ModelConfig(inputs=8, hidden=(12,), outputs=3, delays=True))
    save_checkpoint(model, tmp_path / "model.pt", extra={"dt_ms": 2.0, "model": "ckpt"})
    for fmt, out in (("netx", "model.net"), ("nir", "model.nir")):
        done = call(capsys, "export", tmp_path / "model.pt", "--format", fmt, "--out",
                    tmp_path / out)
        assert done.returncode == 0, done.stderr
    assert float(nir.read(tmp_path / "model.nir").metadata["dt"]) == pytest.approx(2e-3)
    assert call(capsys, "import", tmp_path / "model.nir", "--out",
                tmp_path / "back.net").returncode == 0
    exported = read_netx(tmp_path / "model.net")
    assert exported.max_delay > 0  # the delays travel through the Delay node
    _same(exported, read_netx(tmp_path / "back.net"))


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_differs_from_the_chip_only_by_its_rounding(seed, tmp_path):
    """With the chip's truncation of decayed states switched on, the float reference gives
    the emulator's spikes exactly, every layer: lags, delays, order and reset are the chip's.
    Without it, they differ (a few spikes), which is what `compare --nir` weighs."""
    rng = np.random.default_rng(seed)
    net = NetxNetwork((
        DenseLayer(weight=rng.integers(-40, 80, (12, 8)) * 2, delay=rng.integers(0, 12, 12),
                   neuron=CubaNeuron(i_decay=1066, v_decay=165, vth_mant=300)),
        DenseLayer(weight=rng.integers(-60, 100, (3, 12)) * 2,
                   neuron=CubaNeuron(i_decay=700, v_decay=300, vth_mant=400))), {})
    graph = chain(to_nir(net, 1.0))
    X = (rng.random((40, 8, 120)) < 0.08).astype(np.uint8)
    path = write_netx(net, tmp_path / "net.net")
    ran = EmulatorBackend().run(path, X, hidden=True)
    chip = [*ran.hidden, ran.output]
    rounded = NirReference(graph, 1.0, state_step=1 / 4096).run_layers(X)
    for a, b in zip(rounded, chip):
        assert np.array_equal(a, b)
    real = NirReference(graph, 1.0).run_layers(X)
    assert any(not np.array_equal(a, b) for a, b in zip(real, chip))
    assert all((a & b).sum() / (a | b).sum() > 0.9 for a, b in zip(real, chip))



@st.composite
def _netx_layers(draw):
    """One or two chip-legal dense layers: weights at the range's ends included, any decay
    but 0, thresholds up to the 17-bit limit, delays 0..62 or a bias (not both)."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=3))
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        weight = draw(arrays(np.int64, (n_out, n_in), elements=st.sampled_from(
            [-256, -254, -2, 0, 2, 100, 252, 254]) | st.integers(-128, 127).map(lambda v: 2 * v)))
        neuron = CubaNeuron(i_decay=draw(st.integers(1, 4096)),
                            v_decay=draw(st.integers(1, 4096)),
                            vth_mant=draw(st.sampled_from([1, 64, 131071])
                                          | st.integers(1, 131071)))
        delay = bias = None
        if draw(st.booleans()):
            delay = draw(arrays(np.int64, n_out, elements=st.integers(0, 62)))
        else:
            bias = draw(arrays(np.int64, n_out, elements=st.sampled_from([-4096, 4095])
                               | st.integers(-4096, 4095)))
        layers.append(DenseLayer(weight=weight, neuron=neuron, delay=delay, bias=bias))
    return NetxNetwork(tuple(layers), {})


@settings(max_examples=100, deadline=None)
@given(_netx_layers(), st.sampled_from([0.1, 1.0, 4.0]))
def test_any_chip_legal_network_survives_the_round_trip(net, dt_ms):
    back, choices, notes = quantize(chain(to_nir(net, dt_ms)), dt_ms)
    assert notes == [] and all(c.native for c in choices if np.any(c.weight_range))
    _same(net, back)
