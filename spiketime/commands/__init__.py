"""CLI sub-commands, one module each (see spiketime.cli)."""
