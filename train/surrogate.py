"""The paper's surrogate gradient for SLAYER's CUBA neurons.

Forward: slayer's own spike, H(v - theta) with its threshold epsilon, so the
spikes (and so parity with Lava) are unchanged. Backward: the fast-sigmoid
derivative 1 / (alpha |v - theta| + 1)^2 of "Beyond Rate Coding" (alpha = 100),
instead of slayer's exponential.
"""
from __future__ import annotations

import functools

import torch


class FastSigmoidSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, voltage: torch.Tensor, threshold: float, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(voltage - threshold)
        ctx.alpha = alpha
        return (voltage >= threshold).to(voltage.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad / (ctx.alpha * x.abs() + 1) ** 2, None, None


def _spike(neuron: torch.nn.Module, alpha: float, voltage: torch.Tensor) -> torch.Tensor:
    return FastSigmoidSpike.apply(voltage, neuron.threshold + neuron.threshold_eps, alpha)


def use_fast_sigmoid(neuron: torch.nn.Module, alpha: float) -> None:
    """Give one slayer CUBA neuron the paper's surrogate (binary, stateless neurons only)."""
    if neuron.graded_spike or neuron.persistent_state or neuron.drop is not None:
        raise ValueError("the fast-sigmoid surrogate supports binary, stateless neurons only")
    neuron.spike = functools.partial(_spike, neuron, alpha)
