"""spiketime: timing-coded SNNs from lava-dl training to NetX, Lava and Loihi 2.

This folder is the shared core every stage may import and which imports no stage
(`errors`, `fileio`, `guards`, `readout`, `progress`, `loihi2`), plus the CLI on top (`cli`,
`commands/`). Stages, in the one direction data and imports flow: ``spiketime.data``
-> ``spiketime.train`` -> ``spiketime.export`` -> ``spiketime.sim`` -> ``spiketime.deploy`` ->
``spiketime.parity`` (tests/test_layers.py checks it).
"""
__version__ = "0.1.0"
