"""Loihi 2 number formats and limits: the one place they are defined.

Part of the shared core: every stage imports these names, and none writes the
numbers again. Sources are named per constant: lava-nc 0.10.0
(`lava/proc/lif/models.py`, `lava/proc/dense/models.py`, `lava/lib/dl/netx/hdf5.py`)
and lava-dl 0.6.0 (`lava/lib/dl/slayer/neuron/base.py`, `.../cuba.py`,
`.../axon/delay.py`).

Two tables close the module:

- `RANGES`: the value range of every stored parameter (weight, delay, iDecay,
  vDecay, vThMant, bias, refDelay, gradedSpike), with the reason and source in words built
  from the constants. Export's refusal (`export.netx.range_violations`), `--clip`
  (`export.netx.clip_to_chip`), `spiketime check` (`deploy.chip_check`) and the
  emulator's guards all read it, so a limit changes here and nowhere else.
- `LIMITS`: every scalar figure with its source, as `spiketime check` lists them
  (estimates flagged).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- delays --------------------------------------------------------------------
# Largest axonal delay in steps: netx clamps to 62 and builds DelayDense with
# max_delay=62; slayer's delay clamp uses the same cap (lava-dl delay.py, hdf5.py).
MAX_DELAY = 62
MIN_DELAY = 0

# --- decays (CUBA neuron) -------------------------------------------------------
# 12-bit decay registers; decay_unity = 2**12 in lava PyLifModelBitAcc. slayer
# stores decays as p_scale * fraction with p_scale = 1 << 12 (cuba.py).
DECAY_BITS = 12
DECAY_SCALE = 1 << DECAY_BITS  # 4096 = full decay per step
MIN_DECAY = 0
MAX_DECAY = DECAY_SCALE

# --- weights -------------------------------------------------------------------
# slayer's quantize_8bit: step 2 / w_scale, clamp [-256, 254] / w_scale, with
# w_scale = 1 << 6; exported x w_scale as even integers (neuron/base.py).
WEIGHT_EXPONENT = 6
WEIGHT_SCALE = 1 << WEIGHT_EXPONENT  # 64
WEIGHT_STEP = 2
WEIGHT_MIN = -256
WEIGHT_MAX = 254
WEIGHT_MANTISSA_BITS = 8  # Loihi synaptic weight mantissa (netx optimize_weight_bits)

# --- neuron state ----------------------------------------------------------------
# u and v are 24-bit signed (uv_bitwidth in lava AbstractPyLifModelFixed);
# threshold and synaptic input are MSB-aligned by 6 bits (vth_shift, act_shift).
STATE_BITS = 24
STATE_MAX = (1 << (STATE_BITS - 1)) - 1
STATE_MIN = -STATE_MAX
STATE_WRAP = STATE_MAX + 1  # u wraps into (-STATE_WRAP, STATE_WRAP]; v saturates instead
VTH_SHIFT = 6
ACT_SHIFT = 6
# Threshold mantissa: 17-bit unsigned register (v = vth_mant << 6 must fit in 24 bits).
VTH_MANT_BITS = STATE_BITS - 1 - VTH_SHIFT
VTH_MANT_MAX = (1 << VTH_MANT_BITS) - 1
# slayer's spiking threshold scale: vThMant = threshold * w_scale (neuron/base.py).
THRESHOLD_SCALE = WEIGHT_SCALE

# Refractory delay register (lava-dl cuba ref_delay is fixed at 1).
REF_DELAY = 1


def quantize_delay(delay_steps: np.ndarray) -> np.ndarray:
    """Real-valued trained delay -> integer steps (slayer shifts by floor(delay))."""
    return np.floor(np.asarray(delay_steps)).astype(np.int64)


# --- Loihi 2 chip resources and registers (the legality and resource check) -------
# Sources: lava-nc 0.10.0 and lava-dl 0.6.0 source files as named; "brief" is Intel's
# technology brief "Taking Neuromorphic Computing to the Next Level with Loihi 2"
# (2021: 128 neuro cores, up to 1 million neurons and 120 million synapses per chip,
# 192 KB of memory per neuro core); "Loihi 1 paper" is Davies et al., "Loihi: A
# Neuromorphic Manycore Processor with On-Chip Learning", IEEE Micro 38(1), 2018.
# ESTIMATE marks a figure that neither lava-nc nor lava-dl states for Loihi 2.

# Neuro cores per chip: NUM_VIRTUAL_CORES_L2 = 128 in lava-nc
# magma/compiler/subcompilers/constants.py; the brief says the same.
CORES_PER_CHIP = 128
# ESTIMATE: neurons per core = the brief's 1,048,576 neurons per chip / 128 cores.
# An upper bound; what fits depends on each neuron's state size.
NEURONS_PER_CORE = 8192
# Memory per neuro core, shared by synapses, neuron state and routing (brief).
CORE_MEMORY_BYTES = 192 * 1024
# ESTIMATE: synaptic memory per core. Loihi 1 had a fixed 128 KB (1 Mibit) of
# synaptic memory per core (Loihi 1 paper); Loihi 2 shares its 192 KB flexibly,
# so we assume the same 1 Mibit is left for synapses.
SYNAPTIC_MEMORY_BITS_PER_CORE = 128 * 1024 * 8
# ESTIMATE: input axons (fan-in) and output axons (fan-out) per core, the Loihi 1
# paper's 4,096 each; lava-nc and lava-dl give no Loihi 2 figure.
FAN_IN_PER_CORE = 4096
FAN_OUT_PER_CORE = 4096
# Synaptic delay field: "Loihi 2 has a maximum of 6 bits for delays" (lava-nc
# proc/dense/models.py, PyDelayDenseModelBitAcc); netx caps at MAX_DELAY = 62.
DELAY_BITS = 6
# ESTIMATE: what a delay costs in synaptic memory. netx gives every delayed layer, axonal
# or per synapse, a DelayDense with one delay per synapse (lava-dl netx/hdf5.py), so we
# charge each synapse the bits its layer's largest delay needs, at most DELAY_BITS, beside
# its weight: Loihi 1 stored a delay field of up to 6 bits in each synapse (Loihi 1 paper).
# Loihi 2's synapse encoding is not published in lava-nc or lava-dl, nor is the cost of the
# max_delay + 1 accumulator slots per neuron that Lava's DelayDense keeps
# (lava-nc proc/dense/models.py, a_buff); that cost is unknown and not charged.
DELAY_BITS_PER_SYNAPSE = DELAY_BITS
# ESTIMATE: shared weight exponent range, Loihi 1's -8..7 (Loihi 1 paper); netx
# derives the exponent with lava-dl netx/utils.py optimize_weight_bits.
WEIGHT_EXP_MIN = -8
WEIGHT_EXP_MAX = 7
# Decay registers du, dv are unsigned 12-bit, 0..4095 (lava-nc proc/lif/models.py,
# PyLifResetModelBitAcc docstring; precision=12). netx programs du = iDecay - 1
# and dv = vDecay (lava-dl netx/hdf5.py get_neuron_params).
DECAY_REGISTER_MAX = (1 << DECAY_BITS) - 1
# Bias mantissa: signed 13-bit, -4096..4095 (lava-nc proc/lif/models.py, precision=13).
BIAS_MANT_BITS = 13
BIAS_MANT_MIN = -(1 << (BIAS_MANT_BITS - 1))
BIAS_MANT_MAX = (1 << (BIAS_MANT_BITS - 1)) - 1
# Bias exponent: netx always programs bias_exp = 6, so the neuron adds
# bias_mant << 6 to v each step (lava-dl netx/hdf5.py get_neuron_params).
BIAS_EXP = 6
# Refractory delay: netx builds lava's LIF, which has no refractory register, and
# never reads refDelay (lava-dl netx/hdf5.py); slayer's CUBA fixes ref_delay = 1
# (lava-dl slayer/neuron/cuba.py). Any other value would be dropped on load.
REF_DELAY_MIN = REF_DELAY
REF_DELAY_MAX = REF_DELAY
# Threshold mantissa 0: lava's LIF fires when v > vth, so every neuron would fire on any
# positive input; slayer's threshold must be positive (neuron/base.py), so no trained
# network has it.
VTH_MANT_MIN = 1
# gradedSpike: netx builds CUBA layers as lava's LIF, which sends unary spikes, and never
# reads the flag (lava-dl netx/hdf5.py); a graded-spike network would run as binary.
GRADED_SPIKE_MAX = 0


@dataclass(frozen=True)
class Limit:
    """One chip limit as `spiketime check` reports it."""

    name: str  # the constant's name in this module
    value: int
    meaning: str
    source: str
    estimate: bool = False


# Every limit the check applies, with the source named in the comments above.
LIMITS: tuple[Limit, ...] = (
    Limit("WEIGHT_MIN", WEIGHT_MIN, "smallest weight mantissa",
          "lava-dl slayer quantize_8bit; netx clips mixed-sign weights to it"),
    Limit("WEIGHT_MAX", WEIGHT_MAX, "largest weight mantissa",
          "lava-dl slayer quantize_8bit; netx clips mixed-sign weights to it"),
    Limit("WEIGHT_MANTISSA_BITS", WEIGHT_MANTISSA_BITS, "synaptic weight bits",
          "lava-nc Dense (8-bit weights); lava-dl netx optimize_weight_bits"),
    Limit("WEIGHT_EXP_MIN", WEIGHT_EXP_MIN, "smallest weight exponent",
          "Loihi 1 paper (Davies et al. 2018)", estimate=True),
    Limit("WEIGHT_EXP_MAX", WEIGHT_EXP_MAX, "largest weight exponent",
          "Loihi 1 paper (Davies et al. 2018)", estimate=True),
    Limit("MAX_DELAY", MAX_DELAY, "largest axonal delay, steps",
          "lava-dl netx/hdf5.py (clamps to 62), slayer axon/delay.py"),
    Limit("DELAY_BITS", DELAY_BITS, "synaptic delay bits",
          "lava-nc proc/dense/models.py"),
    Limit("DELAY_BITS_PER_SYNAPSE", DELAY_BITS_PER_SYNAPSE,
          "synaptic memory a delayed synapse adds, bits (at most)",
          "Loihi 1 paper (per-synapse delay field); Loihi 2's encoding unpublished",
          estimate=True),
    Limit("MAX_DECAY", MAX_DECAY, "largest decay in a NetX file",
          "lava-dl slayer neuron/cuba.py (p_scale = 4096)"),
    Limit("DECAY_REGISTER_MAX", DECAY_REGISTER_MAX,
          "largest du (= iDecay - 1) and dv (= vDecay) register",
          "lava-nc proc/lif/models.py (12-bit); lava-dl netx/hdf5.py"),
    Limit("VTH_MANT_MIN", VTH_MANT_MIN, "smallest threshold mantissa",
          "lava-nc proc/lif/models.py (fires when v > vth); slayer's threshold is positive"),
    Limit("VTH_MANT_MAX", VTH_MANT_MAX, "largest threshold mantissa",
          "lava-nc proc/lif/models.py (17-bit vth)"),
    Limit("BIAS_MANT_MIN", BIAS_MANT_MIN, "smallest bias mantissa",
          "lava-nc proc/lif/models.py (13-bit signed)"),
    Limit("BIAS_MANT_MAX", BIAS_MANT_MAX, "largest bias mantissa",
          "lava-nc proc/lif/models.py (13-bit signed)"),
    Limit("REF_DELAY_MAX", REF_DELAY_MAX, "refractory delay netx honours",
          "lava-dl netx/hdf5.py (lava LIF, refDelay unread), slayer cuba.py"),
    Limit("NEURONS_PER_CORE", NEURONS_PER_CORE, "neurons per neuro core",
          "Loihi 2 brief: 1M neurons / 128 cores", estimate=True),
    Limit("SYNAPTIC_MEMORY_BITS_PER_CORE", SYNAPTIC_MEMORY_BITS_PER_CORE,
          "synaptic memory per core, bits",
          "Loihi 1 paper (128 KB); Loihi 2 brief (192 KB shared)", estimate=True),
    Limit("FAN_IN_PER_CORE", FAN_IN_PER_CORE, "input axons per core",
          "Loihi 1 paper", estimate=True),
    Limit("FAN_OUT_PER_CORE", FAN_OUT_PER_CORE, "output axons per core",
          "Loihi 1 paper", estimate=True),
    Limit("CORES_PER_CHIP", CORES_PER_CHIP, "neuro cores per chip",
          "lava-nc compiler constants NUM_VIRTUAL_CORES_L2; Loihi 2 brief"),
)


@dataclass(frozen=True)
class Range:
    """The values one stored parameter may take, and why, for every range check."""

    parameter: str  # the NetX name: "weight", "delay", "iDecay", ...
    low: int
    high: int
    why: str  # the reason, with its numbers, as messages quote it
    at_export: bool = True  # refused by export (the NetX format); False: the chip only

    def contains(self, value: int) -> bool:
        return self.low <= value <= self.high

    @property
    def interval(self) -> str:
        return f"[{self.low}, {self.high}]"


# Every parameter range, in the order checks report them. Sources: see the constants.
RANGES: dict[str, Range] = {r.parameter: r for r in (
    Range("iDecay", MIN_DECAY, MAX_DECAY, f"decay scale {DECAY_SCALE}"),
    Range("vDecay", MIN_DECAY, MAX_DECAY, f"decay scale {DECAY_SCALE}"),
    Range("vThMant", VTH_MANT_MIN, VTH_MANT_MAX,
          f"{VTH_MANT_BITS}-bit threshold mantissa; 0 would fire on any positive voltage"),
    Range("delay", MIN_DELAY, MAX_DELAY, f"axonal delay in steps; netx clamps to {MAX_DELAY}"),
    Range("weight", WEIGHT_MIN, WEIGHT_MAX,
          f"{WEIGHT_MANTISSA_BITS}-bit weight mantissa at scale {WEIGHT_SCALE}; "
          f"netx clips mixed-sign weights"),
    Range("bias", BIAS_MANT_MIN, BIAS_MANT_MAX, f"{BIAS_MANT_BITS}-bit signed bias mantissa"),
    Range("refDelay", REF_DELAY_MIN, REF_DELAY_MAX,
          "netx builds lava's LIF, which has no refractory register", at_export=False),
    Range("gradedSpike", 0, GRADED_SPIKE_MAX,
          "netx runs CUBA layers as lava's LIF, which sends unary spikes and ignores the flag",
          at_export=False),
)}
