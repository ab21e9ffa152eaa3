"""Per-synapse delays learned DCLS-style (Hammouamri et al. 2024), exact on the chip.

Every synapse (o, i) of a layer has a weight w[o, i] (slayer's 8-bit quantization, as
in cuba.Dense) and a real-valued delay position p[o, i] in [0, MAX_DELAY] steps. The
synaptic input of output neuron o at step t is

    z[o, t] = sum_i sum_k w[o, i] K[o, i, k] x[i, t - k],   k = 0..MAX_DELAY

- Gaussian mode (training, while annealing): K[o, i, :] is a Gaussian of width sigma
  centred on p[o, i] over the whole steps within ceil(3 sigma) of round(p[o, i]) (and
  within 0..MAX_DELAY), normalised over them, zero elsewhere (`window`), so the loss has
  a gradient in p. On the CPU the compiled sums of train/synaptic_kernels.py visit only
  those taps at the input's spikes; with SPIKETIME_KERNELS=slayer (or on a GPU) a
  causal conv1d over all MAX_DELAY + 1 taps computes the same sums.
- Exact mode (evaluation, export, and training once annealed): K is one-hot at
  round(p) and positions no longer move. z is then summed spike by spike (each input
  spike adds its quantized weights at whole-step later times: the compiled sums with one
  tap on the CPU, `delayed_input` on slayer's path in evaluation, a conv1d with the
  one-hot kernel there in training), the integer arithmetic of Lava's DelayDense: exact
  products summed below 2**24, so the deployed network is spike-exact with the trained
  one.

`on_epoch(epoch, epochs)` sets the width: sigma_start * (SIGMA_END / sigma_start) **
(epoch / (annealing epochs - 1)) over the first `anneal` fraction of epochs (from
sigma_start to SIGMA_END), exact after.
The rest of the block is slayer's CUBA neuron and its one-step output shift (the compiled
neuron of train/kernels.py on the CPU), so a layer with all delays 0 equals slayer's
cuba.Dense.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spiketime import loihi2
from spiketime.train.kernels import BlockSpec, compiled_neuron
from spiketime.train.synaptic_kernels import WindowedDelaySum

SIGMA_END = 0.5  # steps: the last Gaussian width before positions are rounded
WINDOW_SIGMAS = 3.0  # a Gaussian's taps reach ceil(this * sigma) steps either side of round(p)


def window(position: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo [O, I] int64, share [O, I, W]): synapse (o, i) puts share[o, i, j] of its
    weight at delay lo[o, i] + j. sigma 0: one tap of exactly 1 at round(p). Otherwise
    the Gaussian of width sigma centred on p at the whole steps within ceil(3 sigma) of
    round(p), zero outside 0..MAX_DELAY, normalised over the window (round(p) is always
    inside, so the sum is positive); differentiable in p."""
    centre = position.detach().round().clamp(loihi2.MIN_DELAY, loihi2.MAX_DELAY).long()
    if sigma == 0.0:
        return centre, torch.ones(*centre.shape, 1, dtype=position.dtype,
                                  device=position.device)
    half = math.ceil(WINDOW_SIGMAS * sigma)
    lo = centre - half
    delays = lo[..., None] + torch.arange(2 * half + 1, device=position.device)
    inside = (delays >= loihi2.MIN_DELAY) & (delays <= loihi2.MAX_DELAY)
    # relative to the centre tap (exactly 1), so no width underflows every tap to 0
    p, c = position[..., None], centre[..., None].to(position.dtype)
    share = torch.exp(-0.5 * ((delays.to(position.dtype) - p) ** 2 - (c - p) ** 2) / sigma ** 2)
    share = share * inside
    return lo, share / share.sum(dim=-1, keepdim=True)


class SynapticDelay(torch.nn.Module):
    """The delay positions of one layer's synapses and the annealing width."""

    def __init__(self, n_out: int, n_in: int, init_max: float, sigma_start: float,
                 anneal: float) -> None:
        super().__init__()
        self.position = torch.nn.Parameter(torch.rand(n_out, n_in) * init_max)
        self.sigma_start = float(sigma_start)
        self.anneal = float(anneal)
        # 0 = exact; a buffer, so a checkpoint saved mid-run resumes with its width
        self.register_buffer("sigma", torch.tensor(float(sigma_start)))

    def steps(self) -> torch.Tensor:
        """The integer delays the chip runs: round(p) within [0, MAX_DELAY], int64."""
        return self.position.detach().round().clamp(loihi2.MIN_DELAY, loihi2.MAX_DELAY).long()

    def clamp(self) -> None:
        with torch.no_grad():
            self.position.clamp_(loihi2.MIN_DELAY, loihi2.MAX_DELAY)

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """The width for (0-based) `epoch` of `epochs`: annealed, then 0 (exact)."""
        annealing = max(1, round(self.anneal * epochs))
        ratio = SIGMA_END / self.sigma_start
        sigma = (self.sigma_start * ratio ** (epoch / max(1, annealing - 1))
                 if epoch < annealing else 0.0)
        self.sigma.fill_(sigma)

    @property
    def exact(self) -> bool:
        return not self.training or float(self.sigma) == 0.0

    def width(self) -> float:
        """The Gaussian's width now: 0 (whole steps) in evaluation and once annealed."""
        return float(self.sigma) if self.training else 0.0

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """x [N, in, T] spikes, weight [out, in] -> synaptic input [N, out, T]: the
        reference path (conv1d over all taps; evaluation spike by spike)."""
        if not self.training:
            return delayed_input(x, weight, self.steps())
        sigma = float(self.sigma)
        if sigma == 0.0:  # annealed: whole steps, weights still learn
            kernel = F.one_hot(self.steps(), loihi2.MAX_DELAY + 1).to(x.dtype)
        else:
            lo, share = window(self.position, sigma)
            delays = lo[..., None] + torch.arange(share.shape[-1], device=x.device)
            kernel = torch.zeros(*lo.shape, loihi2.MAX_DELAY + 1, dtype=x.dtype,
                                 device=x.device).scatter_add(
                -1, delays.clamp(loihi2.MIN_DELAY, loihi2.MAX_DELAY), share.to(x.dtype))
        # causal conv1d: tap k reads x[t - k]; conv1d correlates, so flip the taps
        w = (weight[..., None] * kernel).flip(-1)
        return F.conv1d(F.pad(x, (loihi2.MAX_DELAY, 0)), w)

    def compiled(self, x_time_major: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The same sums on the CPU, compiled: x [N, T, in] -> synaptic input [N, T, out]."""
        lo, share = window(self.position, self.width())
        return WindowedDelaySum.apply(x_time_major, weight[..., None] * share, lo)


_SCATTER_CHUNK = 1 << 22  # (synapse, spike) pairs added at once: bounds the index memory


def delayed_input(x: torch.Tensor, weight: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """sum_i weight[o, i] x[i, t - steps[o, i]] for x [N, in, T], exact in float32 for
    slayer's quantized weights (multiples of 2/64 summed below 2**24: every partial sum
    is representable, in any order). Without a gradient to keep, spike by spike (cost
    proportional to the input's spikes); with one, a matrix product per distinct delay."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return _shifted_products(x, weight, steps)
    n, n_out, t = x.shape[0], weight.shape[0], x.shape[2]
    span = t + (int(steps.max()) if steps.numel() else 0)  # late arrivals land past t
    z = x.new_zeros(n * n_out * span)
    b, i, s = x.nonzero(as_tuple=True)
    per_chunk = max(1, _SCATTER_CHUNK // max(n_out, 1))
    rows = torch.arange(n_out, device=x.device)[:, None] * span
    steps_t = steps.t().contiguous()  # [in, out]: a spike's row of delays is contiguous
    weight_t = weight.t().contiguous()
    for start in range(0, len(b), per_chunk):
        cb, ci, cs = (v[start:start + per_chunk] for v in (b, i, s))
        base = cb * (n_out * span) + cs  # [spikes]
        flat = (base[:, None] + rows.t() + steps_t[ci]).reshape(-1)  # [spikes * out]
        z.index_add_(0, flat, (weight_t[ci] * x[cb, ci, cs][:, None]).reshape(-1))
    return z.view(n, n_out, span)[..., :t]


def _shifted_products(x: torch.Tensor, weight: torch.Tensor, steps: torch.Tensor
                      ) -> torch.Tensor:
    """delayed_input, differentiable: one matrix product per distinct delay, shifted."""
    n, _, t = x.shape
    z = x.new_zeros(n, weight.shape[0], t)
    for d in torch.unique(steps[weight.detach() != 0]).tolist():
        if d >= t:
            continue
        part = torch.matmul(torch.where(steps == d, weight, torch.zeros_like(weight)), x)
        z = z + F.pad(part[..., :t - d], (d, 0))
    return z


class SynapticDelayDense(torch.nn.Module):
    """A slayer cuba.Dense block whose synapses have learned delays: its quantized weights
    and CUBA neuron, the synaptic input from `SynapticDelay`, slayer's one-step shift.
    `synapse`, `neuron` and `delay` (None: no axonal delay) are the wrapped block's, so
    export reads it like any other block."""

    def __init__(self, block: torch.nn.Module, config, kernels: str = "compiled") -> None:
        super().__init__()
        if block.delay is not None or not block.delay_shift:
            raise ValueError("per-synapse delays replace axonal ones on a step-shifted block")
        self.synapse = block.synapse
        self.neuron = block.neuron
        self.delay = None
        n_out, n_in = block.synapse.weight.shape[:2]
        self.synaptic_delay = SynapticDelay(n_out, n_in, config.delay_init_max,
                                            config.delay_sigma, config.delay_anneal)
        # the compiled CPU path (train/kernels.py's neuron), or None: slayer's own
        self.spec = None if kernels == "slayer" \
            else BlockSpec(block.neuron, config.surrogate, config.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        syn = self.synapse
        weight = syn.pre_hook_fx(syn.weight).reshape(syn.weight.shape[:2])  # slayer's 8 bits
        if self.spec is not None and x.device.type == "cpu" and x.dtype == torch.float32 \
                and x.dim() == 3:
            z = self.synaptic_delay.compiled(x.transpose(1, 2), weight)
            return compiled_neuron(self.neuron, self.spec, z).transpose(1, 2)
        spikes = self.neuron(self.synaptic_delay(x, weight))
        return F.pad(spikes[..., :-1], (1, 0))  # slayer's step_delay: one step to the next layer


def learned_delays(model: torch.nn.Module) -> list[torch.Tensor | None]:
    """Per block, the integer delays [out, in] of a per-synapse-delay block, else None."""
    return [block.synaptic_delay.steps() if isinstance(block, SynapticDelayDense) else None
            for block in model.blocks]
