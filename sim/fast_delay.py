"""A faster, bit-exact Lava ProcessModel for DelayDense (`sim.lava_cpu.fast_run_cfg` selects it).

Lava's `PyDelayDenseModelBitAcc` builds (max_delay + 1) masked copies of the
weight matrix every step (63 for netx networks) and multiplies them all by the
input. This model computes the same per-delay accumulation from the active
inputs only, and when every row has one delay (netx's axonal delays: all inputs
of neuron j share delay[j]) from one matrix-vector product. Weight clipping and
truncation, the right shift by the weight exponent per delay slot, the int32
activation buffer and its roll are Lava's, so the output is identical.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import DelayDense
from lava.utils.weightutils import SignMode, clip_weights, determine_sign_mode, truncate_weights

from spiketime import loihi2


@implements(proc=DelayDense, protocol=LoihiProtocol)
@requires(CPU)
class FastDelayDenseModel(PyLoihiProcessModel):
    """DelayDense, fixed point, bit-exact with PyDelayDenseModelBitAcc."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=16)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    delays: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=6)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, int, precision=5)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._prepared = False
        self._row_delay: np.ndarray | None = None  # [out] when each row has a single delay

    def _prepare(self) -> None:
        """Once, on the first step (as Lava does): fit weights to the synapse."""
        num_weight_bits: int = self.proc_params.get("num_weight_bits", 8)
        sign_mode: SignMode = self.proc_params.get("sign_mode") or determine_sign_mode(self.weights)
        self.weights = clip_weights(self.weights, sign_mode, num_bits=loihi2.WEIGHT_MANTISSA_BITS)
        self.weights = truncate_weights(self.weights, sign_mode, num_weight_bits)
        if np.max(self.delays) > (1 << loihi2.DELAY_BITS) - 1:
            raise ValueError(f"DelayDense delays must lie in [0, {(1 << loihi2.DELAY_BITS) - 1}]")
        self._w64 = self.weights.astype(np.int64)
        self._delays = self.delays.astype(np.int64)
        if self._delays.size and np.all(self._delays == self._delays[:, :1]):
            self._row_delay = self._delays[:, 0].copy()
        self._prepared = True

    def _accumulate(self, s_in: np.ndarray) -> np.ndarray:
        """Per output neuron and delay slot, the summed weighted input [out, slots] (int64)."""
        out, slots = self.a_buff.shape
        acc = np.zeros((out, slots), dtype=np.int64)
        active = np.flatnonzero(s_in)
        if active.size == 0:
            return acc
        w = self._w64[:, active]
        if self.num_message_bits.item() > 0:
            w = w * s_in[active].astype(np.int64)
        if self._row_delay is not None:
            acc[np.arange(out), self._row_delay] = w.sum(axis=1)
        else:
            flat = np.arange(out)[:, None] * slots + self._delays[:, active]
            acc = np.bincount(flat.ravel(), weights=w.ravel(), minlength=out * slots)
            acc = np.rint(acc).astype(np.int64).reshape(out, slots)  # exact: |sums| << 2**53
        return acc

    def run_spk(self) -> None:
        weight_exp: int = self.proc_params.get("weight_exp", 0)
        if not self._prepared:
            self._prepare()
        self.a_out.send(self.a_buff[:, 0])
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = s_in.astype(bool)
        acc = self._accumulate(s_in)
        acc = np.left_shift(acc, weight_exp) if weight_exp > 0 else np.right_shift(acc, -weight_exp)
        self.a_buff[:, 0] = 0
        self.a_buff = np.roll(self.a_buff, -1, axis=1)
        self.a_buff += acc

