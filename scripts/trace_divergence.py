"""Where a trained network and its deployment stop agreeing, spike by spike.

    .venv/bin/python scripts/trace_divergence.py --model RUN/best.pt --netx RUN/model.net \
        --data V.h5 [--show 5]

Runs the test split through slayer's forward pass (the trained side) and the emulator
(bit-exact with Lava's fixed_pt models) with every layer's spikes and the emulator's u
and v, then prints, per layer, how many samples differ, and for the first --show
differing samples the first layer, step and neurons that differ, with the deployed
neuron's u and v over the steps before. A state at Loihi's 24-bit register limits
(v saturates at +-(2**23 - 1), u wraps past 2**23), which slayer's integrator does not
have, is flagged: that is what made 3 of the speech grid's 22 networks differ
(docs/speech.md, Results). Not part of the test run.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from spiketime import loihi2
from spiketime.data.dataset import load_dataset
from spiketime.errors import UserError
from spiketime.sim.emulator import EmulatorBackend
from spiketime.train.evaluate import run_trained_layers
from spiketime.train.model import load_checkpoint

WRAP = loihi2.STATE_WRAP  # u wraps into (-WRAP, WRAP]
HISTORY = 12  # steps of u and v shown before the first difference


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the trained checkpoint (best.pt)")
    p.add_argument("--netx", required=True, help="its NetX export (model.net)")
    p.add_argument("--data", required=True, help="the prepared dataset (its test split)")
    p.add_argument("--show", type=int, default=5, help="differing samples to detail")
    args = p.parse_args(argv)
    X = load_dataset(args.data).test.X
    trained_out, trained_hidden = run_trained_layers(load_checkpoint(args.model), X)
    deployed = EmulatorBackend().run(args.netx, X, hidden=True, states=True)
    trained = [*trained_hidden, trained_out]
    layers = [*deployed.hidden, deployed.output]
    differ = np.zeros(len(X), bool)
    for i, (a, b) in enumerate(zip(trained, layers)):
        d = np.any(a != b, axis=(1, 2))
        differ |= d
        u, v = deployed.u[i], deployed.v[i]
        print(f"layer {i}: {d.sum()} of {len(d)} samples differ; deployed u in "
              f"[{u.min()}, {u.max()}], v in [{v.min()}, {v.max()}] (limits: u wraps past "
              f"{WRAP}, v saturates at +-{loihi2.STATE_MAX})")
    for s in np.flatnonzero(differ)[:args.show]:
        i = next(i for i, (a, b) in enumerate(zip(trained, layers)) if np.any(a[s] != b[s]))
        where = np.argwhere(trained[i][s] != layers[i][s])
        t = int(where[:, 1].min())
        neurons = where[where[:, 1] == t, 0]
        n = int(neurons[0])
        u_all, v_all = deployed.u[i][s, n, :t + 1], deployed.v[i][s, n, :t + 1]
        limit = np.flatnonzero((np.abs(v_all) >= loihi2.STATE_MAX)
                               | (np.abs(np.diff(u_all, prepend=0)) > WRAP))
        u, v = u_all[-HISTORY - 1:], v_all[-HISTORY - 1:]
        print(f"sample {s}: layer {i} first differs at step {t}, neurons {neurons.tolist()} "
              f"(trained spikes {trained[i][s, neurons, t].tolist()}, deployed "
              f"{layers[i][s, neurons, t].tolist()}); neuron {n}'s deployed u {u.tolist()}, "
              f"v {v.tolist()}" + (f"; it reached a register limit first at step {limit[0]}"
                                   if limit.size else "; no register limit reached"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
