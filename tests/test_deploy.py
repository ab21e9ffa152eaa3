"""Backend selection, the Loihi 2 hardware path (chip parts faked) and `spiketime deploy`."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from support import random_layer, random_spikes, spiketime

from spiketime.cli import main
from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.deploy import loihi2_hw, registry
from spiketime.deploy.loihi2_hw import Availability, Loihi2Backend
from spiketime.errors import UserError
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx
from spiketime.sim.lava_stream import LavaParts

NOT_THERE = Availability(False, "lava-loihi is not installed (faked)")


@pytest.fixture
def diagonal(tmp_path):
    """2 inputs -> 2 outputs, each output driven by its own input only."""
    net = NetxNetwork((DenseLayer(weight=np.array([[254, 0], [0, 254]]),
                                  neuron=CubaNeuron(i_decay=2048, v_decay=1024, vth_mant=100)),))
    return write_netx(net, tmp_path / "diag.netx")


@pytest.fixture
def dataset(tmp_path):
    """Samples 0 and 1 drive class 0 and class 1; sample 2 drives class 0 but is labelled 1."""
    X = np.zeros((3, 2, 10), np.uint8)
    X[0, 0, ::2] = X[1, 1, ::2] = X[2, 0, ::3] = 1
    y = np.array([0, 1, 1])
    split = Split(X, y)
    path = tmp_path / "data.h5"
    save_dataset(Dataset(split, split, DatasetMeta("isi", "test", 1.0, ["a", "b"], 0, {})), path)
    return path


def delayed_net(tmp_path):
    rng = np.random.default_rng(3)
    neuron = dict(i_decay=1024, v_decay=512, vth=300, w=(-80, 198))
    net = NetxNetwork((random_layer(rng, 6, 8, delays=tuple(range(5)), **neuron),
                       random_layer(rng, 8, 3, **neuron)))
    X = random_spikes(4, 6, 16, 0.3, rng)
    return write_netx(net, tmp_path / "delayed.netx"), X


# --- selection and availability ----------------------------------------------------


def test_auto_falls_back_to_lava_cpu_with_a_note(monkeypatch) -> None:
    monkeypatch.setattr(loihi2_hw, "availability", lambda: NOT_THERE)
    chosen = registry.select_backend("auto")
    assert chosen.backend.name == "lava-cpu"
    assert chosen.note == ("note: Loihi 2 not available (lava-loihi is not installed (faked)); "
                           "using lava-cpu instead")
    monkeypatch.setattr(loihi2_hw, "availability", lambda: Availability(True))
    chosen = registry.select_backend("auto")
    assert isinstance(chosen.backend, Loihi2Backend) and chosen.backend.parts is None


def test_loihi2_without_hardware_names_what_is_missing(monkeypatch) -> None:
    monkeypatch.setattr(loihi2_hw, "availability", lambda: NOT_THERE)
    missing = r"^cannot use Loihi 2: lava-loihi is not installed \(faked\)$"
    with pytest.raises(UserError, match=missing):
        registry.select_backend("loihi2")
    with pytest.raises(UserError, match="unknown backend 'tpu'"):
        registry.get_backend("tpu")
    assert registry.get_backend("lava-cpu").name == "lava-cpu"


def test_availability_follows_lavas_own_checks(monkeypatch) -> None:
    from lava.utils import loihi, slurm

    monkeypatch.delenv("NXSDKHOST", raising=False)
    monkeypatch.setattr(loihi, "is_installed", lambda *a: False)
    assert "lava-loihi is not installed" in loihi2_hw.availability().missing

    monkeypatch.setattr(loihi, "is_installed", lambda *a: True)
    monkeypatch.setattr(loihi2_hw, "_importable", lambda m: m != "lava.proc.embedded_io")
    assert loihi2_hw.availability().missing == (
        "lava-loihi is installed but lava.proc.embedded_io cannot be imported")

    monkeypatch.setattr(loihi2_hw, "_importable", lambda m: True)
    monkeypatch.setattr(slurm, "is_available", lambda: False)
    status = loihi2_hw.availability()
    assert not status.ok and status.missing.startswith("no Loihi 2 system reachable")
    monkeypatch.setenv("NXSDKHOST", "10.0.0.2")
    assert loihi2_hw.availability() == Availability(True)
    monkeypatch.delenv("NXSDKHOST")
    monkeypatch.setattr(slurm, "is_available", lambda: True)
    assert loihi2_hw.availability() == Availability(True)


def test_missing_sinfo_means_no_slurm(monkeypatch) -> None:
    from lava.utils import slurm

    def no_binary(*args, **kwargs):
        raise FileNotFoundError("sinfo")

    monkeypatch.setattr(slurm.subprocess, "run", no_binary)  # Lava itself lets this escape
    assert loihi2_hw._slurm_available() is False


def test_hardware_parts_are_lavas_loihi2_classes(monkeypatch) -> None:
    """Only lava-loihi's embedded IO is faked: the run config is Lava's real Loihi2HwCfg."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.proc import io

    spike = types.SimpleNamespace(PyToNxAdapter=object(), NxToPyAdapter=object())
    fake_eio = types.ModuleType("lava.proc.embedded_io")
    fake_eio.spike = spike
    monkeypatch.setitem(sys.modules, "lava.proc.embedded_io", fake_eio)
    import lava.proc
    monkeypatch.setattr(lava.proc, "embedded_io", fake_eio, raising=False)
    parts = loihi2_hw.hardware_parts()
    assert parts.run_cfg is Loihi2HwCfg and parts.run_steps is RunSteps
    assert parts.network is netx.hdf5.Network
    assert parts.source is io.source.RingBuffer and parts.sink is io.sink.RingBuffer
    assert parts.in_adapter is spike.PyToNxAdapter and parts.out_adapter is spike.NxToPyAdapter


# --- the hardware path with the chip faked --------------------------------------------


class Recorder:
    """Stands in for the Lava processes the chip run builds; records what is done to them."""

    def __init__(self, channels: int, sizes: list[int], recordings: list[np.ndarray]):
        self.links: list[tuple[str, str]] = []
        self.adapters: list[tuple[str, tuple]] = []
        self.runs: list[tuple[int, object]] = []
        self.sets: list[tuple[str, int]] = []
        self.stopped = 0
        self.source_data = None
        self.configs: list[object] = []
        self.recordings = list(recordings)
        self.channels, self.sizes = channels, sizes

    def port(self, name: str, shape: tuple = ()):
        rec = self
        return types.SimpleNamespace(name=name, shape=shape,
                                     connect=lambda other: rec.links.append((name, other.name)))

    def var(self, name: str, shape: tuple):
        rec = self

        def set_(value):
            assert not np.any(value) and value.shape == shape
            rec.sets.append((name, len(rec.runs)))

        return types.SimpleNamespace(shape=shape, set=set_)

    def parts(self) -> LavaParts:
        rec = self

        def network(net_config: str):
            layers = [types.SimpleNamespace(
                out=rec.port(f"layer{i}.out", (n,)),
                neuron=types.SimpleNamespace(u=rec.var(f"u{i}", (n,)), v=rec.var(f"v{i}", (n,))),
                synapse=types.SimpleNamespace(a_buff=rec.var(f"a{i}", (n,))))
                for i, n in enumerate(rec.sizes)]
            return types.SimpleNamespace(
                inp=rec.port("net.inp", (rec.channels,)), layers=layers,
                run=lambda condition, run_cfg: rec.runs.append((condition, run_cfg)),
                stop=lambda: setattr(rec, "stopped", rec.stopped + 1))

        def source(data):
            rec.source_data = data
            return types.SimpleNamespace(s_out=rec.port("source.s_out"))

        def sink(shape, buffer):
            data = rec.recordings.pop(0)
            assert data.shape == (shape[0], buffer)
            return types.SimpleNamespace(a_in=rec.port(f"sink{shape}.a_in"),
                                         data=types.SimpleNamespace(get=lambda: data))

        def adapter(kind):
            def make(shape):
                rec.adapters.append((kind, shape))
                tag = f"{kind}{len(rec.adapters)}"
                return types.SimpleNamespace(inp=rec.port(f"{tag}.inp"), out=rec.port(f"{tag}.out"))
            return make

        def run_cfg():
            cfg = object()
            rec.configs.append(cfg)
            return cfg

        return LavaParts(network=network, source=source, sink=sink,
                         run_steps=lambda num_steps: num_steps, run_cfg=run_cfg,
                         in_adapter=adapter("in"), out_adapter=adapter("out"))


def test_hardware_path_with_the_chip_faked(monkeypatch, tmp_path) -> None:
    path, X = delayed_net(tmp_path)
    n, steps, latency = len(X), X.shape[2], 3
    period = steps + latency
    rng = np.random.default_rng(0)
    # What the chip would send back: the wanted window of sample k sits at
    # k * period + latency; everything else is 1s that must not be read.
    want = [(rng.random((n, size, steps)) < 0.5).astype(np.uint8) for size in (8, 3)]
    recordings = []
    for w in want:
        r = np.ones((w.shape[1], n * period), np.int32)
        for k in range(n):
            r[:, k * period + latency:(k + 1) * period] = w[k]
        recordings.append(r)
    rec = Recorder(6, [8, 3], recordings)
    connected = []
    monkeypatch.setattr(loihi2_hw, "availability", lambda: Availability(True))
    monkeypatch.setattr(loihi2_hw, "connect_host", lambda: connected.append(True))
    monkeypatch.setattr(loihi2_hw, "hardware_parts", rec.parts)

    result = Loihi2Backend(io_latency=latency).run(path, X, hidden=True)

    assert connected == [True]
    # spikes in through one PyToNx adapter, out through one NxToPy adapter per watched layer
    assert rec.adapters == [("in", (6,)), ("out", (8,)), ("out", (3,))]
    assert sorted(rec.links) == sorted([
        ("source.s_out", "in1.inp"), ("in1.out", "net.inp"),
        ("layer0.out", "out2.inp"), ("out2.out", "sink(8,).a_in"),
        ("layer1.out", "out3.inp"), ("out3.out", "sink(3,).a_in")])
    # input: each sample followed by `latency` silent steps
    stream = rec.source_data
    assert stream.shape == (6, n * period)
    for k in range(n):
        assert np.array_equal(stream[:, k * period:k * period + steps], X[k])
        assert not stream[:, k * period + steps:(k + 1) * period].any()
    # compiled once, one run per sample, state back to rest after each
    assert len(rec.configs) == 1 and rec.runs == [(period, rec.configs[0])] * n
    assert sorted(rec.sets) == sorted((v, r) for r in range(1, n + 1)
                                      for v in ("u0", "v0", "a0", "u1", "v1", "a1"))
    assert rec.stopped == 1
    assert np.array_equal(result.output, want[1]) and np.array_equal(result.hidden[0], want[0])


def test_illegal_network_is_refused_before_the_chip(monkeypatch, tmp_path) -> None:
    net = NetxNetwork((DenseLayer(weight=np.array([[2, 4]]),
                                  neuron=CubaNeuron(i_decay=0, v_decay=10, vth_mant=5)),))
    path = write_netx(net, tmp_path / "idecay0.netx")  # in the file format's range, not the chip's
    monkeypatch.setattr(loihi2_hw, "availability", lambda: pytest.fail("checked the chip first"))
    refusal = "is not legal on Loihi 2: layer 0 iDecay 0: netx programs du"
    with pytest.raises(UserError, match=refusal):
        Loihi2Backend().run(path, np.zeros((1, 2, 4), np.uint8))


def test_hardware_protocol_on_lavas_cpu_matches_the_lava_cpu_backend(tmp_path) -> None:
    """The chip path's streaming, reset and readout, run on Loihi2SimCfg without adapters."""
    from spiketime.sim.lava_cpu import LavaCpuBackend, cpu_parts

    path, X = delayed_net(tmp_path)
    twin = Loihi2Backend(parts=cpu_parts).run(path, X, hidden=True)
    ref = LavaCpuBackend().run(path, X, hidden=True)
    counts = ref.output.sum(axis=2)
    assert counts.min() > 0 and len(np.unique(counts)) > 1  # a run worth comparing
    assert np.array_equal(twin.output, ref.output)
    assert np.array_equal(twin.hidden[0], ref.hidden[0])


# --- the command -------------------------------------------------------------------


def test_deploy_loihi2_without_hardware_fails_in_one_line(diagonal, dataset) -> None:
    out = spiketime("deploy", diagonal, "--data", dataset, "--backend", "loihi2", timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: cannot use Loihi 2: ")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert ("lava-loihi is not installed" in out.stderr
            or "no Loihi 2 system reachable" in out.stderr)


def test_deploy_auto_falls_back_and_reports_accuracy(diagonal, dataset, monkeypatch,
                                                     capsys) -> None:
    monkeypatch.delenv("NXSDKHOST", raising=False)
    code = main(["deploy", str(diagonal), "--data", str(dataset), "--backend", "auto", "--json"])
    out, err = capsys.readouterr()
    assert code == 3, err  # 3 samples cannot tell any accuracy from chance: INCONCLUSIVE
    if loihi2_hw.availability().ok:
        pytest.skip("a Loihi 2 system is reachable: auto does not fall back here")
    assert err.startswith("note: Loihi 2 not available (")
    assert err.rstrip().endswith("using lava-cpu instead")
    summary = json.loads(out)
    assert summary["backend"] == "lava-cpu" and summary["split"] == "test"
    assert (summary["samples"], summary["correct"]) == (3, 2)  # sample 2 is mislabelled
    assert summary["accuracy"] == pytest.approx(2 / 3)
    assert summary["note"] == err.strip()
    assert summary["verdict"] == "INCONCLUSIVE" and summary["chance"] == [0.0, 1.0]
    assert summary["reasons"] == ["deployed: accuracy 66.7% is within the chance interval "
                                  "[0.0%, 100.0%] for 3 samples"]
    assert summary["activity"]["no_output_fraction"] == 0
    from spiketime.parity.deployment import DeployReport

    assert list(summary) == ["netx", "data", "split", "backend", "samples", "correct",
                             "accuracy", "note", "chance", "confidence", "activity",
                             "data_notes", "verdict", "reasons", "warnings",
                             "allow_degenerate"]  # the keys deploy --json has always had
    assert DeployReport.from_dict(summary).to_dict() == summary  # a typed record, read back

    assert main(["deploy", str(diagonal), "--data", str(dataset), "--backend", "lava-cpu",
                 "--limit", "2", "--allow-degenerate"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{diagonal} on lava-cpu: accuracy 1.0000 (2/2 test samples)\n"
    assert err.startswith("  warning (--allow-degenerate): deployed: accuracy 100.0% is within")


@pytest.mark.parametrize("args, words", [
    (("--data", "DATA"), "has 2 classes but"),
    (("--data", "DATA", "--limit", "0"), "--limit must be at least 1"),
    (("--data", "NONE"), "does not exist"),
    (("--data", "DATA", "--backend", "tpu"), "invalid choice"),
], ids=["classes", "limit", "no-data", "backend"])
def test_deploy_refuses_bad_input_in_one_line(args, words, diagonal, dataset, tmp_path,
                                              capsys) -> None:
    netx_file = diagonal
    if words.startswith("has 2 classes"):
        netx_file = write_netx(NetxNetwork((DenseLayer(weight=np.full((3, 2), 2),
                                                       neuron=CubaNeuron(1024, 512, 80)),)),
                               tmp_path / "three.netx")
    paths = {"DATA": str(dataset), "NONE": str(tmp_path / "none.h5")}
    argv = ["deploy", str(netx_file), *(paths.get(a, a) for a in args)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
