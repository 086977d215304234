"""Errors the command line reports as one line and exit status 2."""

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad input from the user: a file, a value or a combination of options.

    The message is shown as it is, after ``systolic: error:``; it should name the parameter and
    what is allowed.
    """
