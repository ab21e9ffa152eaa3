"""The one exception type a user should see as a single `error: ...` line."""


class UserError(ValueError):
    """Bad input or environment the user can fix; the CLI prints it without a traceback.
    A `ValueError`, so library callers (spiketime.api) can catch it the usual way."""
