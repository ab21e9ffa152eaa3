"""Training side: datasets, perturbations, the lava-dl SLAYER model, trainer and PyTorch evaluation."""
