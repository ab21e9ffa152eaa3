"""Running a NetX file: Lava's CPU simulator (fixed_pt) and a bit-exact batched emulator,
behind one interface (`backend`) and one registry (`registry`, which deploy/ extends)."""
