"""Loihi 2 legality and resource check, `spiketime check`, and export that never clips silently."""
from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
from support import spiketime

from spiketime import loihi2
from spiketime.cli import main
from spiketime.deploy.chip_check import ChipLimits, check_network
from spiketime.errors import UserError
from spiketime.export.netx import (
    CubaNeuron,
    DenseLayer,
    NetxNetwork,
    clip_to_chip,
    read_netx,
    write_netx,
)

LEGAL_NEURON = CubaNeuron(i_decay=1024, v_decay=512, vth_mant=80)


def weights(out: int, inp: int) -> np.ndarray:
    """Even mantissas spanning the whole 8-bit range [-256, 254], both signs."""
    w = (np.arange(out * inp).reshape(out, inp) * 2) % 512 - 256
    w.flat[0], w.flat[-1] = -256, 254
    return w


def spanning_layer(out: int, inp: int, *, weight: np.ndarray | None = None, delay=None, bias=None,
                   **neuron) -> DenseLayer:
    """A legal layer whose weights span the whole mantissa range (`weights`); any
    neuron register can be overridden."""
    return DenseLayer(weight=weights(out, inp) if weight is None else np.asarray(weight),
                      neuron=dataclasses.replace(LEGAL_NEURON, **neuron), delay=delay, bias=bias)


def legal_net() -> NetxNetwork:
    return NetxNetwork((spanning_layer(32, 10, delay=np.arange(32) % 21), spanning_layer(4, 32)),
                       {"task": "isi"})


def test_legal_network_passes_with_its_resource_estimate() -> None:
    report = check_network(legal_net())
    assert report.legal and report.violations == ()
    first, second = report.layers
    # weights span [-256, 254] in steps of 2: 8 bits, exponent 0 (netx's fit)
    assert (first.weight_bits, first.weight_exponent) == (8, 0)
    assert first.delay_bits == 5  # largest delay 20 needs 5 bits
    assert first.synaptic_bits_per_neuron == 10 * (8 + 5)
    assert second.delay_bits == 0 and second.synaptic_bits_per_neuron == 32 * 8
    assert first.target_cores == second.cores == 1  # layer 0 feeds layer 1's single core
    assert report.cores == 2 and report.cores_available == loihi2.CORES_PER_CHIP
    assert {lim.name for lim in report.estimates} >= {
        "NEURONS_PER_CORE", "SYNAPTIC_MEMORY_BITS_PER_CORE",
                                                   "FAN_IN_PER_CORE", "FAN_OUT_PER_CORE"}


def _one_layer(**kw) -> NetxNetwork:
    return NetxNetwork((spanning_layer(3, 4, **kw),))


def _w(values: list[int]) -> np.ndarray:
    return np.array([values] * 3)


# (id, network, limits, parameter, value, words the message must contain)
CASES = [
    ("weight-high", _one_layer(weight=_w([0, 2, 256, -4])), None, "weight", 256, "above 254"),
    ("weight-low", _one_layer(weight=_w([0, 2, -258, 4])), None, "weight", -258, "below -256"),
    ("weight-bits", _one_layer(weight=_w([-256, 253, 2, 4])), None, "weight bits", 9, "9 bits"),
    ("weight-exponent", _one_layer(weight=_w([65536] * 4)), None, "weight exponent", 9, "[-8, 7]"),
    ("weights-zero", _one_layer(weight=_w([0] * 4)), None, "weight", 0, "all zero"),
    ("delay-high", _one_layer(delay=[0, 63, 1]), None, "delay", 63, "above 62"),
    ("delay-low", _one_layer(delay=[0, -1, 1]), None, "delay", -1, "below 0"),
    ("idecay-high", _one_layer(i_decay=4097), None, "iDecay", 4097, "above 4096"),
    ("vdecay-low", _one_layer(v_decay=-1), None, "vDecay", -1, "below 0"),
    ("idecay-register", _one_layer(i_decay=0), None, "iDecay", 0, "du = iDecay - 1 = -1"),
    ("vdecay-register", _one_layer(v_decay=4096), None, "vDecay", 4096,
     "outside the 12-bit register [0, 4095]"),
    ("threshold", _one_layer(vth_mant=131072), None, "vThMant", 131072, "above 131071"),
    ("refractory", _one_layer(ref_delay=2), None, "refDelay", 2, "above 1"),
    ("bias", _one_layer(bias=[0, 4096, 1]), None, "bias", 4096, "above 4095"),
    ("fan-in", NetxNetwork((spanning_layer(2, 4097),)), None, "fan-in", 4097, "4096"),
    ("synaptic-memory", NetxNetwork((spanning_layer(2, 200),)),
     ChipLimits(synaptic_memory_bits=1000),
     "synaptic memory", 1600, "200 inputs x 8 bits"),
    ("fan-out", NetxNetwork((spanning_layer(5, 4), spanning_layer(3, 5))),
     ChipLimits(neurons_per_core=1, fan_out=2),
     "fan-out", 3, "reach 3 cores"),
    ("neurons-per-core", NetxNetwork((spanning_layer(10, 4), spanning_layer(3, 10))),
     ChipLimits(neurons_per_core=4, cores_per_chip=3), "neuro cores", 4,
     "bound by neurons per core"),
]


@pytest.mark.parametrize("net, limits, parameter, value, words",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_limit_violated_once_fails_with_the_right_message(net, limits, parameter, value,
                                                               words):
    report = check_network(net, limits or ChipLimits())
    assert not report.legal
    found = [v for v in report.violations if v.parameter == parameter and v.value == value]
    assert len(found) == 1, report.violations
    v = found[0]
    assert words in v.message
    assert str(value) in v.message and parameter.split()[0] in v.message
    if v.layer is not None:
        assert v.message.startswith(f"layer {v.layer} ")
    resource = parameter in ("fan-in", "synaptic memory", "fan-out", "neuro cores")
    assert v.estimate == (resource or parameter == "weight exponent")


def test_more_chips_make_room() -> None:
    net = NetxNetwork((spanning_layer(10, 4), spanning_layer(3, 10)))
    assert not check_network(net, ChipLimits(neurons_per_core=4, cores_per_chip=3)).legal
    report = check_network(net, ChipLimits(neurons_per_core=4, cores_per_chip=3, chips=2))
    assert report.legal and report.cores == 4 and report.cores_available == 6


# --- export never clips silently -------------------------------------------------


def test_write_refuses_what_netx_would_clip(tmp_path) -> None:
    net = NetxNetwork((spanning_layer(3, 4, weight=_w([0, 2, 300, -4]), delay=[0, 70, 1]),))
    with pytest.raises(UserError, match=r"layer 0 delay 70 is outside \[0, 62\].*weight 300"):
        write_netx(net, tmp_path / "net.netx")
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_clip_to_chip_clips_only_on_request_and_records_it(tmp_path) -> None:
    net = NetxNetwork((spanning_layer(3, 4, weight=_w([0, 2, 300, -4]), delay=[0, 70, 1],
                                      v_decay=5000),),
                      {"task": "isi"})
    clipped, report = clip_to_chip(net)
    assert report == [
        "layer 0 vDecay 5000 clipped to 4096 (range [0, 4096])",
        "layer 0 delay: 1 of 3 values clipped to [0, 62] (were 0..70)",
        "layer 0 weight: 3 of 12 values clipped to [-256, 254] (were -4..300)",
    ]
    assert clipped.metadata == {"task": "isi", "clipped": report}
    path = write_netx(clipped, tmp_path / "net.netx")
    back = read_netx(path)
    assert back.metadata["clipped"] == report
    assert back.layers[0].weight.max() == 254 and back.layers[0].delay.tolist() == [0, 62, 1]
    assert back.layers[0].neuron.v_decay == 4096
    untouched, nothing = clip_to_chip(legal_net())
    assert nothing == [] and "clipped" not in untouched.metadata


def test_read_can_return_out_of_range_values_for_the_checker(tmp_path) -> None:
    path = _tamper(write_netx(legal_net(), tmp_path / "net.netx"), "layer/0/delay", 63)
    with pytest.raises(UserError, match="delay 63"):
        read_netx(path)
    assert read_netx(path, validate=False).layers[0].delay.max() == 63


def _tamper(path, dataset: str, value: int):
    """Set one element of a stored array, as a foreign exporter might have written it."""
    with h5py.File(path, "r+") as f:
        data = f[dataset][()]
        data.flat[1] = value
        f[dataset][...] = data
    return path


# --- the command -------------------------------------------------------------------


def test_check_command(tmp_path, capsys) -> None:
    legal = write_netx(legal_net(), tmp_path / "legal.netx")
    assert main(["check", str(legal)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{legal}: legal on Loihi 2; needs an estimated 2 of 128 neuro cores")
    assert "estimates" in out and "neurons per neuro core: 8192" in out

    bad = _tamper(write_netx(legal_net(), tmp_path / "bad.netx"), "layer/0/delay", 63)
    assert main(["check", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)  # one object, nothing else on stdout
    assert report["legal"] is False and report["file"] == str(bad)
    assert report["violations"] == [{
        "layer": 0, "parameter": "delay", "value": 63, "limit": "<= 62", "estimate": False,
        "message": "layer 0 delay 63 is above 62 (axonal delay in steps; netx clamps to 62)"}]
    assert [lay["cores"] for lay in report["layers"]] == [1, 1] and report["cores"] == 2
    assert report["cores_estimated"] is True
    assert all(e["estimate"] for e in report["estimates"])


def test_check_clip_writes_a_clipped_copy_and_says_so(tmp_path, capsys) -> None:
    bad = _tamper(write_netx(legal_net(), tmp_path / "bad.netx"), "layer/0/delay", 63)
    fixed = tmp_path / "fixed.netx"
    assert main(["check", str(bad), "--clip", str(fixed)]) == 0
    out, err = capsys.readouterr()
    line = "layer 0 delay: 1 of 32 values clipped to [0, 62] (were 0..63)"
    assert err == f"clipped: {line}\n"
    assert out.startswith(f"{fixed}: legal on Loihi 2")
    copy = read_netx(fixed)
    assert copy.metadata == {"task": "isi", "clipped": [line]} and copy.layers[0].delay.max() == 62
    assert read_netx(bad, validate=False).layers[0].delay.max() == 63  # the input is untouched
    assert main(["check", str(bad), "--clip", str(bad)]) == 2
    assert "would replace the input" in capsys.readouterr().err


def test_check_command_refuses_a_non_netx_file(tmp_path) -> None:
    junk = tmp_path / "junk.netx"
    junk.write_text("not hdf5")
    out = spiketime("check", junk, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_a_network_trained_and_exported_by_spiketime_is_legal(trained_delay_net) -> None:
    report = check_network(trained_delay_net["net"])
    assert report.legal, [v.message for v in report.violations]
    assert [lay.delay_bits > 0 for lay in report.layers] == [True, True, False]
