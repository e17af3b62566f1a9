"""genreclf's one error hierarchy: every error a user can cause, and its exit status.

A command catches :class:`GenreclfError` alone; it prints ``error: <message>`` (one
line) and exits with the error's :attr:`~GenreclfError.exit_status`:

- 2: the command line or a referenced model/store is at fault (:class:`ConfigError`
  and its kin);
- 1: the data are at fault (:class:`DataError`).

This module imports nothing from genreclf, so any layer can raise these.
"""

from __future__ import annotations


class GenreclfError(ValueError):
    """An error a user can fix; its message is one line naming the option or file."""

    #: Exit status of a command that stops on this error.
    exit_status: int = 2


class ConfigError(GenreclfError):
    """A config value is not allowed; the message names the option (exit status 2)."""


class DataError(GenreclfError):
    """The data are unusable as they are; the message starts with the file (exit status 1)."""

    exit_status = 1


class MissingPathError(ConfigError, FileNotFoundError):
    """A file or folder an option names does not exist (exit status 2)."""


#: Longest text :func:`one_line` echoes, before ``...``.
LINE_LIMIT = 200

#: How :func:`printable` writes the usual control characters.
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    """One character that must not reach a terminal as it is, written as an escape."""
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a file name's undecodable byte (PEP 383)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _is_control(char: str) -> bool:
    """Whether ``char`` moves the cursor, ends a line, reorders text or is not text."""
    code = ord(char)
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF  # surrogates: lone, or a file name's undecodable bytes
        or code in (0x2028, 0x2029, 0xFEFF)  # line and paragraph separators, BOM
        or 0x200B <= code <= 0x200F  # zero-width characters, direction marks
        or 0x202A <= code <= 0x202E  # bidirectional embeddings and overrides
        or 0x2066 <= code <= 0x2069  # bidirectional isolates
    )


def printable(value: str) -> str:
    """``value`` with every control character written as an escape (``\\x1b``, ``\\n``).

    Parameters
    ----------
    value : str
        Text read from a store, a file name or a model folder.

    Returns
    -------
    str
        The same text, safe inside one terminal line or one line of a written file:
        ESC, CR, LF, NUL, the other C0 and C1 characters, DEL, Unicode line separators,
        bidirectional overrides and surrogates written as ``\\xNN``, ``\\n`` or ``\\uNNNN``
        (a file name's undecodable byte as ``\\xNN``, as
        :func:`genreclf.core.filenames.printable_name` writes it).
    """
    if value.isprintable() and value.isascii():
        return value
    return "".join(_escaped(c) if _is_control(c) else c for c in value)


def one_line(value: BaseException | str, limit: int = LINE_LIMIT, *, named: bool = False) -> str:
    """``value`` as one safe line of text, at most ``limit`` characters and ``...``.

    Parameters
    ----------
    value : BaseException or str
        An exception (its message's lines joined by spaces, or its type's name if it has
        none) or text read from outside (a run name, a file name, a label).
    limit : int
        Most characters kept, before ``...``.
    named : bool
        Start with the exception's type name (``OSError: <first line>``).

    Returns
    -------
    str
        The text with control characters as escapes (:func:`printable`).
    """
    if isinstance(value, BaseException):
        kind = type(value).__name__
        message = " ".join(line.strip() for line in str(value).splitlines() if line.strip())
        value = f"{kind}: {message}" if named and message else message or kind
    text = printable(str(value))
    return text if len(text) <= limit else text[:limit] + "..."
