"""The one exception type a user should see as a single `error: ...` line."""


class UserError(Exception):
    """Bad input or environment the user can fix; the CLI prints it without a traceback."""
