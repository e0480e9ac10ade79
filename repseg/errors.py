"""The root of every error repseg raises for bad input.

A tool catches ``RepSegError`` once and prints its message: each subclass's
message names the file, key or argument at fault, so the user gets one line
to act on instead of a traceback. Subclasses also derive from the builtin
they refine (``ValueError``, ``FileNotFoundError`` ...) so that callers that
catch those keep working.
"""


class RepSegError(Exception):
    """Bad input to repseg (a config, checkpoint, file, argument or
    environment it cannot work with); the message says which and why."""
