"""Loihi 2's 24-bit neuron registers in slayer's CUBA forward pass.

slayer integrates current u and voltage v in int64, so they can grow without bound;
the chip (and Lava's fixed_pt model, and the emulator) keeps them in 24 bits: u wraps
into (-2**23, 2**23], v saturates at +-(2**23 - 1) before the threshold test. A network
whose states leave that range spikes differently on the chip (docs/speech.md: an output
voltage driven below the floor recovers sooner there). `use_chip_registers` gives one
neuron the chip's arithmetic in the forward pass: slayer's own dynamics run first, and
only when a state leaves the range are u and v recomputed step by step with the chip's
rules. The gradient stays slayer's (straight through the recomputation), so training
sees the values the chip computes and learns as before.

slayer's CUBA states are held in units of 1/s_scale with s_scale = 4096, which are
Lava's register units (weights x 64, MSB-aligned by 6 more bits), so the limits apply
to round(state * s_scale) directly.
"""
from __future__ import annotations

import functools

import torch

from spiketime import loihi2

_SHIFT = loihi2.DECAY_BITS
WRAP = loihi2.STATE_WRAP


def _decay(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """x * keep / 2**12 rounded toward zero (the chip's sign-magnitude shift), int64."""
    y = x * keep
    return torch.sign(y) * (torch.abs(y) >> _SHIFT)


def chip_integrate(x: torch.Tensor, decay: torch.Tensor, scale: int, *, wrap: bool,
                   threshold: float | None = None) -> torch.Tensor:
    """A leaky integrator from rest over the last axis, as slayer's (y = decay(y) + trunc(
    scale * x), reset to 0 after y >= threshold) but in the chip's 24 bits: y wraps
    (wrap=True, the current) or saturates (the voltage, before the threshold test).
    x float [..., T] in slayer's units; decay [neurons] in 1/4096; returns float like x."""
    keep = loihi2.DECAY_SCALE - decay.detach().to(torch.int64).reshape(-1, *([1] * (x.dim() - 3)))
    xs = (scale * x.detach()).to(torch.int64)
    out = torch.empty_like(xs)
    y = torch.zeros_like(xs[..., 0])
    limit = None if threshold is None else threshold * scale  # slayer compares in float
    for t in range(xs.shape[-1]):
        y = _decay(y, keep) + xs[..., t]
        if wrap:
            y = torch.where(y > WRAP, y - 2 * WRAP, y)
            y = torch.where(y <= -WRAP, y + 2 * WRAP, y)
        else:
            y = y.clamp(loihi2.STATE_MIN, loihi2.STATE_MAX)
        out[..., t] = y
        if limit is not None:
            y = torch.where(y >= limit, torch.zeros_like(y), y)
    return out.to(x.dtype) / scale


def _outside(state: torch.Tensor, scale: int) -> bool:
    """Whether any value of a slayer state leaves the chip's 24-bit range."""
    if state.numel() == 0:
        return False
    hi, lo = float(state.detach().max()) * scale, float(state.detach().min()) * scale
    return hi > loihi2.STATE_MAX or lo < loihi2.STATE_MIN


def _straight_through(value: torch.Tensor, grad_of: torch.Tensor) -> torch.Tensor:
    """`value` in the forward pass, `grad_of`'s gradient in the backward one; exact, as
    grad_of - grad_of is 0 (`grad_of + (value - grad_of).detach()` rounds in float32)."""
    return value + (grad_of - grad_of.detach())


def _dynamics(neuron: torch.nn.Module, slayer_dynamics, x: torch.Tensor):
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator
    from lava.lib.dl.slayer.utils import quantize

    current, voltage = slayer_dynamics(x)
    scale = int(neuron.s_scale)
    current_outside = _outside(current, scale)
    if not (current_outside or _outside(voltage, scale)):
        return current, voltage
    threshold = float(neuron.threshold + neuron.threshold_eps)
    if current_outside:  # the chip's current, then slayer's voltage from it
        chip = chip_integrate(x, quantize(neuron.current_decay), scale, wrap=True)
        current = _straight_through(chip, current)
        voltage = leaky_integrator.dynamics(
            current, quantize(neuron.voltage_decay), neuron.voltage_state.contiguous(),
            neuron.s_scale, threshold, debug=neuron.debug)
    chip = chip_integrate(current, quantize(neuron.voltage_decay), scale, wrap=False,
                          threshold=threshold)
    return current, _straight_through(chip, voltage)


def use_chip_registers(neuron: torch.nn.Module) -> None:
    """Give one slayer CUBA neuron the chip's 24-bit u and v (stateless neurons without
    a norm only, as this project builds them)."""
    if neuron.persistent_state or neuron.norm is not None:
        raise ValueError("chip registers support stateless CUBA neurons without a norm only")
    neuron.dynamics = functools.partial(_dynamics, neuron, neuron.dynamics)
