"""The emulator's effective weights against the functions Lava itself applies.

netx's `optimize_weight_bits` then Lava's Dense model (`clip_weights`,
`truncate_weights`, right shift by -weight_exp): no simulation needed, so many
matrices can be checked.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.sim.lava_weights import lava_weights


def lava_chain(w: np.ndarray) -> tuple[np.ndarray, int]:
    """What Lava uses: (weights, right shift), by Lava's and netx's own code."""
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    with contextlib.redirect_stdout(io.StringIO()), np.errstate(divide="ignore"):
        w2, bits, exp, _ = optimize_weight_bits(w.copy())  # prints notes, divides by a zero max
    mode = determine_sign_mode(w2)
    w3 = truncate_weights(clip_weights(w2, mode, num_bits=loihi2.WEIGHT_MANTISSA_BITS), mode, bits)
    return w3.astype(np.int64), -exp


def _check(w: np.ndarray) -> None:
    ours, shift = lava_weights(w)
    theirs, their_shift = lava_chain(w)
    assert shift == their_shift
    assert np.array_equal(ours, theirs)


weights = st.one_of(
    arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
           elements=st.integers(loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX)),
    arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)),  # slayer's even mantissas
           elements=st.integers(loihi2.WEIGHT_MIN // 2,
                                loihi2.WEIGHT_MAX // 2).map(lambda x: 2 * x)),
    arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 4)),  # small, single-signed
           elements=st.integers(-8, 8)).map(lambda a: np.abs(a) if a.sum() % 2 else -np.abs(a)),
)


@settings(max_examples=300, deadline=None)
@given(weights)
def test_effective_weights_match_lava(w: np.ndarray) -> None:
    if not w.any():
        return  # netx cannot fit an all-zero matrix (log2 of infinity); covered below
    try:
        ours = lava_weights(w)
    except UserError:
        return  # a combination where Lava shifts by a negative count; tested below
    theirs = lava_chain(w)
    assert ours[1] == theirs[1]
    assert np.array_equal(ours[0], theirs[0])


@pytest.mark.parametrize("w", [
    [[254, -256], [0, 2]],  # full range: no scaling
    [[2, -2], [4, 0]],  # tiny weights: scaled up by 2**6, input shifted back
    [[-256, -2]],  # all negative: Lava clips -256 to -255
    [[-256, 0]],  # netx calls it mixed, Lava inhibitory
    [[3, 5], [7, 1]],  # odd, excitatory
    [[254, 254]],
])
def test_edge_matrices(w: list) -> None:
    _check(np.array(w, dtype=np.int64))


def test_inline_values() -> None:
    w, shift = lava_weights(np.array([[2, -2], [4, 0]]))
    assert shift == 5  # netx scales by 2**5, the synapse shifts the input back by 5
    assert w.tolist() == [[64, -64], [128, 0]]
    w, shift = lava_weights(np.array([[-256, -2]]))
    assert (w.tolist(), shift) == ([[-254, -2]], 0)  # clipped to -255, then bit 0 dropped


def test_all_zero_is_zero_input() -> None:
    w, shift = lava_weights(np.zeros((3, 2), dtype=np.int64))
    assert not w.any() and shift == 0


def test_negative_truncation_is_refused() -> None:
    w = np.array([[-129, 0]])  # netx: mixed, odd -> -1 bits; Lava: inhibitory
    with pytest.raises(UserError, match="layer 0"):
        lava_weights(w)
