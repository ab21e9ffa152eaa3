"""The compiled CPU kernels (train/kernels.py) against slayer's own blocks.

Spikes must be identical (integer arithmetic), gradients equal within float32
tolerance (the kernels sum in another order). Each case aims at one corner: trained
decays (no decay, full decay), delays over 0..62, the fast-sigmoid surrogate, and
states at the 24-bit register limits (reached: checked), where the reference is
slayer with the chip's registers (train/registers.py), as training has used.
"""
from __future__ import annotations

import copy

import pytest
import torch

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.train import kernels
from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.registers import use_chip_registers
from spiketime.train.surrogate import use_fast_sigmoid


def _block(threshold, current_decay, voltage_decay, *, weight_gain=1.0, delay=False,
           surrogate="slayer", chip=True, inputs=30, outputs=20, seed=0):
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(seed)
    neuron = dict(threshold=threshold, current_decay=current_decay,
                  voltage_decay=voltage_decay, tau_grad=1.0, scale_grad=1.0,
                  requires_grad=True)
    block = slayer.block.cuba.Dense(neuron, inputs, outputs, weight_scale=2, delay=delay)
    block.synapse.weight.data *= weight_gain
    if delay:
        spread = torch.linspace(0, loihi2.MAX_DELAY + 0.9, outputs)  # 0 and 62 included
        block.delay.delay.data = spread[torch.randperm(outputs)]
        block.delay.init = True
    if chip:
        use_chip_registers(block.neuron)
    if surrogate == "fast-sigmoid":
        use_fast_sigmoid(block.neuron, 100.0)
    return block


def _compiled(block, surrogate="slayer"):
    twin = copy.deepcopy(block)
    kernels.use_kernels(twin, "compiled", surrogate, 100.0)
    return twin


def _run(block, x, weight):
    block.zero_grad()
    out = block(x)
    (out * weight).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in block.named_parameters()}


def _assert_same(reference, compiled, x):
    ref_out = reference(x)
    weight = torch.randn_like(ref_out)
    ref, ref_grads = _run(reference, x, weight)
    out, grads = _run(compiled, x, weight)
    assert ref.sum() > 0, "no spikes: the case tests nothing"
    assert torch.equal(ref, out), f"{int((ref != out).sum())} spikes differ"
    assert ref_grads.keys() == grads.keys()
    for name, g in ref_grads.items():
        scale = float(g.abs().max()) or 1.0
        assert torch.allclose(grads[name], g, rtol=1e-4, atol=1e-5 * scale), name


CASES = {
    "defaults": dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03),
    "no decay": dict(threshold=1.0, current_decay=0.0, voltage_decay=0.0),
    "full current decay": dict(threshold=1.0, current_decay=1.0, voltage_decay=0.5),
    "delays 0..62": dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03, delay=True),
    "fast sigmoid": dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03, delay=True,
                         surrogate="fast-sigmoid"),
}


@pytest.mark.parametrize("density", [0.05, 0.3])  # per-event synapse, then the product
@pytest.mark.parametrize("case", CASES)
def test_spikes_equal_slayers_and_gradients_match(case, density):
    params = CASES[case]
    x = (torch.rand(4, 30, 300) < density).float()
    assert kernels._sparse_binary(x) == (density < kernels.EVENT_DENSITY)
    plain = _block(**params, chip=False)  # slayer's own block, untouched
    _assert_same(plain, _compiled(plain, params.get("surrogate", "slayer")), x)


@pytest.mark.parametrize("threshold, current_decay, voltage_decay", [
    (1.0, 0.0, 0.0),     # u grows past 2**23 and wraps, v hits both limits
    (200.0, 0.0, 0.001),  # v saturates high below a huge threshold
])
def test_register_limits_match_the_chip_registers_path(threshold, current_decay, voltage_decay):
    x = (torch.rand(4, 30, 400) < 0.5).float()
    reference = _block(threshold, current_decay, voltage_decay, weight_gain=60, delay=True)
    unbounded = _block(threshold, current_decay, voltage_decay, weight_gain=60, delay=True,
                       chip=False)  # the same weights, slayer's int64 states
    with torch.no_grad():
        _, voltage = unbounded.neuron.dynamics(unbounded.synapse(x))
    assert float(voltage.abs().max()) * unbounded.neuron.s_scale > loihi2.STATE_MAX  # reached
    _assert_same(reference, _compiled(reference), x)


def test_network_paths_agree_and_the_environment_selects_them(monkeypatch):
    config = ModelConfig(inputs=24, hidden=(16, 12), outputs=3, delays=True, seed=3)
    monkeypatch.setenv(kernels.ENV, "slayer")
    slow = SpikingNet(config)
    assert all(not hasattr(b.forward, "func") for b in slow.blocks)  # slayer's own forward
    monkeypatch.delenv(kernels.ENV)
    fast = SpikingNet(config)
    assert all(getattr(b.forward, "func", None) is kernels._compiled_forward
               for b in fast.blocks)
    fast.load_state_dict(slow.state_dict())
    x = (torch.rand(5, 24, 120) < 0.3).float()
    outs = []
    for model in (slow, fast):
        model.zero_grad()
        out, hidden = model(x, hidden=True)
        out.sum().backward()
        outs.append((out, hidden, [p.grad.clone() for p in model.parameters()]))
    (a, ha, ga), (b, hb, gb) = outs
    assert a.sum() > 0 and torch.equal(a, b)
    assert all(torch.equal(u, v) for u, v in zip(ha, hb))
    for u, v in zip(ga, gb):
        assert torch.allclose(u, v, rtol=1e-4, atol=1e-5 * (float(u.abs().max()) or 1.0))


def test_an_unknown_kernel_mode_is_refused():
    assert kernels.kernel_mode({}) == "compiled"
    assert kernels.kernel_mode({kernels.ENV: "slayer"}) == "slayer"
    with pytest.raises(UserError, match="SPIKETIME_KERNELS='fast' is not a kernel mode"):
        kernels.kernel_mode({kernels.ENV: "fast"})
