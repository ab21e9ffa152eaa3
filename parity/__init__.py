"""Trained vs deployed: where the torch side (train/) and the NetX side (sim/, deploy/) meet.

conditions  named transforms of a test set (original, reversed, perturbations)
sweep       which conditions a comparison runs, each with a fixed seed
harness     the one loop that runs conditions on both sides (`run_grid`)
stats       paired statistics (bootstrap intervals, McNemar, sign test)
activity    per-layer activity of either side: spikes per neuron, silent, saturated
verdict     PASSED / FAILED / INCONCLUSIVE: chance interval, degeneracy, resolution
reports     report.json as typed dataclasses: the one reader and writer
render      report.md and the PNG plots, from those dataclasses
pipeline    `spiketime pipeline`: data -> train -> NetX -> deployed run -> verdict
comparison  `spiketime compare`: a perturbation sweep with a statistical verdict
deployment  `spiketime deploy`: one NetX network on a backend, its accuracy and verdict
"""
