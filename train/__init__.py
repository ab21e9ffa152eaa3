"""Training side: the lava-dl SLAYER model, its kernels, trainer, run folders and PyTorch
evaluation. Imports the shared core and spiketime.data."""
from spiketime.callable_package import make_callable

make_callable(__name__, "train")  # spiketime.train(...) is spiketime.api.train(...)
