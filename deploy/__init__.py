"""Loihi 2 hardware backend, chip legality and resource checks, and the trained-vs-deployed parity harness."""
