"""The error for bad data: a table or file that cannot be used as it is."""

from __future__ import annotations


class DataError(ValueError):
    """The data are unusable as they are; the message is one line, starting with the file.

    The commands print it as ``error: <file>: <why>`` and exit with :attr:`exit_status`
    (1: the data, not the command line, are at fault; bad options exit with 2).
    """

    #: Exit status of a command that stops on this error.
    exit_status: int = 1
