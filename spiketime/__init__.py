"""spiketime: timing-coded SNNs from lava-dl training to NetX, Lava and Loihi 2.

Stages (one-way data flow): ``spiketime.train`` -> ``spiketime.export`` ->
``spiketime.sim`` / ``spiketime.deploy``.
"""
__version__ = "0.1.0"
