"""Trained model -> NetX HDF5 (+ metadata); reading, validating and clipping NetX files.

The Loihi 2 number formats and limits these use live in the shared core, `spiketime.loihi2`.
"""
