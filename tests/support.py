"""What the tests share: CLI runners, spike and network builders, the Lava oracle.

Imported normally (`from support import ...`); conftest.py holds only fixtures.
"""
from __future__ import annotations

import contextlib
import io as _io
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np

from spiketime import loihi2
from spiketime.export.netx import CubaNeuron, DenseLayer
from spiketime.sim.backend import RunResult

# --- the command line -------------------------------------------------------------------


def spiketime(*args: object, cwd=None, timeout: int = 600,
              memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """The CLI in a subprocess, as a user runs it: CI=1 (no progress bars) and no
    NXSDKHOST (no test should reach for a Loihi 2 board). With `memory_limit` (bytes),
    the process runs under that address-space limit (RLIMIT_AS), so a command that
    allocates without bound fails alone instead of taking the machine's memory."""
    env = {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run([sys.executable, "-m", "spiketime", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env,
                          preexec_fn=limit if memory_limit else None)


def call(capsys, *args: object) -> subprocess.CompletedProcess:
    """main() in this process (faster than a subprocess), reported like a finished one."""
    from spiketime.cli import main

    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out, err)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, stderr is exactly one `error: ...` line, no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- spikes and networks ------------------------------------------------------------------


def random_spikes(n: int, channels: int, steps: int, p: float,
                  seed: int | np.random.Generator) -> np.ndarray:
    """Bernoulli(p) spike trains uint8 [n, channels, steps]; `seed` may be a Generator."""
    rng = np.random.default_rng(seed)  # a Generator is used as it is
    return (rng.random((n, channels, steps)) < p).astype(np.uint8)


def random_layer(rng: np.random.Generator, n_in: int, n_out: int, *, i_decay: int,
                 v_decay: int, vth: int,
                 w: tuple[int, int] = (loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX),
                 delays: tuple[int, ...] | None = None, bias: int = 0,
                 graded: bool = False) -> DenseLayer:
    """Random even weights in [w0, w1]; delays drawn from `delays` (None: no delay);
    bias uniform in [-bias, bias] (0: none)."""
    weight = 2 * rng.integers(w[0] // 2, w[1] // 2 + 1, size=(n_out, n_in))
    return DenseLayer(
        weight=weight,
        neuron=CubaNeuron(i_decay=i_decay, v_decay=v_decay, vth_mant=vth, graded_spike=graded),
        delay=None if delays is None else rng.choice(delays, size=n_out),
        bias=rng.integers(-bias, bias + 1, size=n_out) if bias else None,
    )


def train_delay_net(seed: int = 3):
    """A 12-16-10-3 SpikingNet with delays, trained until weights, decays and delays all
    moved; returns (model, state before training)."""
    import torch

    from spiketime.train.model import ModelConfig, SpikingNet
    from spiketime.train.trainer import TrainConfig, train

    torch.set_num_threads(1)
    cfg = ModelConfig(inputs=12, hidden=(16, 10), outputs=3, delays=True, delay_init_max=20,
                      weight_scale=4.0, seed=seed)
    model = SpikingNet(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X = random_spikes(48, 12, 60, 0.15, seed=1)
    y = np.arange(48) % 3
    train(model, X, y, TrainConfig(epochs=3, batch_size=16, lr=0.01, delay_lr=2.0, decay_lr=20.0,
                                   loss="spikemax"))
    return model, before


# --- the Lava oracle -----------------------------------------------------------------------


def run_lava(netx_file: str | os.PathLike, X: np.ndarray,
             run_cfg: Callable[[], object] | None = None) -> RunResult:
    """Every layer's spikes and u, v (int32 [N, n, T] per layer), as Lava computes them.

    An independent reimplementation of `spiketime.sim.lava_stream.run_streamed`, on
    purpose: the oracle that checks the emulator and the fast DelayDense model must
    not share their code path. It wires netx, a RingBuffer source and sinks by hand,
    adds Monitors on u and v, and resets state between samples the plain way. Lava's
    start-up (~2 s) dominates small runs: batch what you can into one call.
    """
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc import io
    from lava.proc.monitor.process import Monitor

    from spiketime.sim.lava_cpu import default_run_cfg

    n, _, steps = X.shape
    with contextlib.redirect_stdout(_io.StringIO()):
        net = netx.hdf5.Network(net_config=str(netx_file))
    source = io.source.RingBuffer(data=np.concatenate(list(X), axis=1).astype(np.int32))
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = io.sink.RingBuffer(shape=layer.out.shape, buffer=n * steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    monitors = []  # one per Var: a Monitor's model has a single RefPort
    for layer in net.layers:
        for var in (layer.neuron.u, layer.neuron.v):
            monitors.append(Monitor())
            monitors[-1].probe(var, n * steps)
    state = [var for layer in net.layers
             for var in (layer.neuron.u, layer.neuron.v, layer.synapse.a_buff)]
    cfg = (run_cfg or default_run_cfg)()
    try:
        for _ in range(n):
            net.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            for var in state:
                var.set(np.zeros(var.shape, dtype=np.int32))
        spikes = [s.data.get() for s in sinks]
        probed = [m.var_read_0.get() for m in monitors]
    finally:
        net.stop()

    def per_sample(a: np.ndarray, dtype) -> np.ndarray:  # [n_i, N*T] -> [N, n_i, T]
        return a.reshape(a.shape[0], n, steps).transpose(1, 0, 2).astype(dtype)

    spikes = [per_sample(s, np.uint8) for s in spikes]
    states = [per_sample(p.T, np.int32) for p in probed]  # the monitor stores [N*T, n_i]
    return RunResult(output=spikes[-1], hidden=tuple(spikes[:-1]),
                     u=tuple(states[0::2]), v=tuple(states[1::2]))
