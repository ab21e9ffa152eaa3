"""Trained model -> NetX HDF5 (+ metadata); reading, validating and clipping NetX files.

The Loihi 2 number formats and limits these use live in the shared core, `spiketime.loihi2`.
"""
from spiketime.callable_package import make_callable

make_callable(__name__, "export")  # spiketime.export(...) is spiketime.api.export(...)
