"""The integer weights Lava's fixed_pt Dense models end up using for a NetX layer.

netx does not hand the file's weight mantissas to the synapse as they are: it
fits them to the 8-bit synapse (`optimize_weight_bits`: scale up by 2**k, pick a
weight exponent -k and a bit count), and the synapse model then clips and
truncates them by its own sign-mode rules (`clip_weights`, `truncate_weights`)
and right-shifts each accumulated input by k. This module reproduces that chain
as plain integer arithmetic, so that

    synaptic input = floor((W_eff @ spikes) / 2**shift)

is exactly what Lava computes. netx and Lava each decide the sign mode by
slightly different rules (netx: all < 0 is inhibitory; Lava: all <= 0); both
are kept. Combinations for which Lava shifts by a negative count (undefined in
numpy) are refused.
"""
from __future__ import annotations

import numpy as np

from spiketime import loihi2
from spiketime.errors import UserError

_BITS = loihi2.WEIGHT_MANTISSA_BITS
_FULL = 1 << _BITS  # 256
_MIXED_POS = (1 << (_BITS - 1)) - 1  # 127: netx scales mixed-sign weights into [-128, 127]
_MIXED_NEG = 1 << (_BITS - 1)  # 128
_UNSIGNED_MAX = _FULL - 1  # 255


def lava_weights(weight: np.ndarray, layer: int = 0) -> tuple[np.ndarray, int]:
    """(W_eff int64 [out, in], shift >= 0) such that Lava's synaptic input is
    floor(W_eff @ s / 2**shift) for binary spikes s."""
    w = np.asarray(weight, dtype=np.int64)
    if not w.any():
        return np.zeros_like(w), 0  # nothing to fit (netx itself fails on an all-zero matrix)
    lo, hi = int(w.min()), int(w.max())
    # netx: a mixed-sign matrix is clipped to the 8-bit mantissa range.
    if (hi > loihi2.WEIGHT_MAX and lo < 0) or (lo < loihi2.WEIGHT_MIN and hi > 0):
        w = np.clip(w, loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX)
        lo, hi = int(w.min()), int(w.max())
    # netx's sign mode and scale
    if hi < 0:
        signed, scale = 0, -_FULL / lo
    elif lo >= 0:
        signed, scale = 0, _UNSIGNED_MAX / hi
    else:
        pos = _MIXED_POS / hi if hi > 0 else np.inf
        signed, scale = 1, min(pos, -_MIXED_NEG / lo)
    scale_bits = int(np.floor(np.log2(scale))) + signed
    if scale_bits < 0:
        raise UserError(
            f"layer {layer}: weights in [{lo}, {hi}] do not fit the {_BITS}-bit synapse "
            f"(netx would shift them by {scale_bits})"
        )
    zeros = _trailing_zero_bits(w) - signed
    num_weight_bits = _BITS - scale_bits - zeros
    w = w << scale_bits
    # Lava's synapse model: its own sign mode, clip to 8 bits, drop low bits.
    if w.min() >= 0:
        mode, lo_clip, hi_clip = "exc", 0, _UNSIGNED_MAX
    elif w.max() <= 0:
        mode, lo_clip, hi_clip = "inh", -_UNSIGNED_MAX, 0
    else:
        mode, lo_clip, hi_clip = "mixed", -_FULL, _UNSIGNED_MAX
    w = np.clip(w, lo_clip, hi_clip)
    drop = _BITS - num_weight_bits + (mode == "mixed")
    if drop < 0:
        raise UserError(
            f"layer {layer}: netx and Lava disagree on the sign mode of weights in "
            f"[{lo}, {hi}] (Lava would shift them by {drop})"
        )
    if mode == "inh":
        w = -((-w >> drop) << drop)
    else:
        w = (w >> drop) << drop
    return w, scale_bits


def _trailing_zero_bits(w: np.ndarray) -> int:
    """Largest n <= WEIGHT_MANTISSA_BITS with every weight a multiple of 2**n."""
    bits = np.bitwise_or.reduce(w.astype(np.int64), axis=None) if w.size else 0
    if bits == 0:
        return _BITS  # all zero: a multiple of everything
    low = int(bits) & -int(bits)  # the lowest set bit over all weights (two's complement)
    return min(low.bit_length() - 1, _BITS)
