"""Exceptions for problems a user can fix; the CLI prints them as one line instead of a traceback."""


class MnistLitError(Exception):
    """Base class of the errors the CLI reports as ``mnist_lit: error: <message>``."""


class ConfigError(MnistLitError, ValueError):
    """A configuration value is out of range or inconsistent with another one."""


class DataError(MnistLitError):
    """MNIST files are missing, truncated, corrupt or cannot be fetched."""


class OutputError(MnistLitError):
    """An output file or folder cannot be written (permissions, a full disk, a read-only mount)."""


class CheckpointError(MnistLitError):
    """A checkpoint path cannot be resolved or the file is not a usable checkpoint."""


def one_line(err: object) -> str:
    """Return an error's message (or any text) on one line (jsonargparse's messages span several)."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip())


class MissingExtraError(MnistLitError):
    """An optional dependency is not installed; the message says which ``pip install`` adds it."""
