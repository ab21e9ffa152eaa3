"""Loihi 2: the hardware backend (`loihi2_hw`), the chip legality and resource check
(`chip_check`), and the backend registry with the chip added (`registry`)."""
