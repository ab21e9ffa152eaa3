"""Training side: datasets, audits, perturbations, the lava-dl SLAYER model, trainer and
PyTorch evaluation. Imports only the shared core (spiketime/*.py)."""
