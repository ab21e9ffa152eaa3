"""Running a NetX file: the Lava CPU simulator and a bit-exact batched emulator behind one interface."""
