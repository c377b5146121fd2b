"""The one exception type for mistakes a user can fix (bad flag, missing folder, corrupt file).

The command line prints its message on one line and exits with status 2; anything else
that goes wrong is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as a one-line message."""
