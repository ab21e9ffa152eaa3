"""Loihi 2 number formats and limits: the one place they are defined.

Every other module imports these names; none writes the numbers again. Sources
are named per constant: lava-nc 0.10.0 (`lava/proc/lif/models.py`,
`lava/proc/dense/models.py`, `lava/lib/dl/netx/hdf5.py`) and lava-dl 0.6.0
(`lava/lib/dl/slayer/neuron/base.py`, `.../cuba.py`, `.../axon/delay.py`).
"""
from __future__ import annotations

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
VTH_SHIFT = 6
ACT_SHIFT = 6
# Threshold mantissa: 17-bit unsigned register (v = vth_mant << 6 must fit in 24 bits).
VTH_MANT_BITS = STATE_BITS - 1 - VTH_SHIFT
VTH_MANT_MAX = (1 << VTH_MANT_BITS) - 1
# slayer's spiking threshold scale: vThMant = threshold * w_scale (neuron/base.py).
THRESHOLD_SCALE = WEIGHT_SCALE

# Refractory delay register (lava-dl cuba ref_delay is fixed at 1).
REF_DELAY = 1


def quantize_decay(fraction: float | np.ndarray) -> np.ndarray:
    """Decay fraction per step -> integer register value, as slayer exports it."""
    return np.clip(np.round(np.asarray(fraction) * DECAY_SCALE), MIN_DECAY, MAX_DECAY).astype(np.int64)


def quantize_delay(delay_steps: np.ndarray) -> np.ndarray:
    """Real-valued trained delay -> integer steps (slayer shifts by floor(delay))."""
    return np.floor(np.asarray(delay_steps)).astype(np.int64)
