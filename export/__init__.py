"""Trained model -> NetX HDF5; reading and validating NetX files; the one home of Loihi 2 number formats and limits."""
