"""User-facing errors: one clear line (what, why, what to do), printed by the CLI without a traceback."""


class UserError(Exception):
    """A mistake the user can fix (bad path, unknown name, unreadable file...).

    The message is the whole line the user sees: say the value, the limit or reason, and the fix.
    ``exit_code`` is the process exit status the CLI uses (2 = bad usage/input, 1 = runtime failure).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
