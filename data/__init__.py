"""Data: dataset files, generators, audits, perturbations, speech preparation, the cochlear
encoder and the spoken-digit corpus. Imports only the shared core."""
