"""The one exception type that the command line turns into a one-line error."""


class DiffbenchError(ValueError):
    """A user-facing error: bad input, a bad file, or an impossible request.

    The message must name what was wrong and what is allowed. ``diffbench`` prints it on
    one line (``error: <message>``) and exits with status 2, without a traceback.
    """
