"""Errors a user can act on.

Every `DigitrecError` carries one sentence that names the problem and, where there is
one, the fix. The CLI prints it without a traceback; anything else is a bug.
"""


class DigitrecError(Exception):
    """An error caused by input, data or environment, with a message meant for the user."""


class DataError(DigitrecError):
    """A data file is missing, corrupt, or not what it claims to be."""


class DownloadError(DataError):
    """No mirror could deliver a verified copy of a file."""


class CheckpointError(DigitrecError):
    """A checkpoint or run folder cannot be read or does not fit its model."""


class RunError(DigitrecError):
    """A run folder cannot be created, resumed or overwritten as asked."""


class ConfigError(DigitrecError):
    """A recipe, option or override is invalid."""


class WriteError(DigitrecError):
    """A file cannot be written: the disk is full, read-only, or the folder is not ours."""
