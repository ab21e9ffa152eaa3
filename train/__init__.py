"""Training side: the lava-dl SLAYER model, its kernels, trainer, run folders and PyTorch
evaluation. Imports the shared core and spiketime.data."""
