"""Write output files so that a crash, Ctrl-C or a full disk never leaves a half-written one.

    with atomic_write(Path("results/report.md")) as f:
        f.write(text)

The content goes to a hidden temporary file in the same folder (``.report.md.XXXX.part``), which
replaces the target only once it is complete and flushed to disk; on an error the temporary file
is removed and the target is left as it was. (A process killed outright leaves the hidden
``.part`` file, never a truncated target.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from mnist_lit.errors import OutputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class PartFile:
    """A file written under a temporary name and moved into place by ``commit``.

    Args:
        path: The file to write; its folder is created if needed.
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        **open_kwargs: Passed to ``open`` (e.g. ``newline=""``, ``encoding="utf-8"``).

    Raises:
        OutputError: The folder cannot be created or written; the message names ``path``.

    """

    def __init__(self, path: str | Path, mode: Literal["w", "wb"] = "w", **open_kwargs: Any):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
            )
        except OSError as err:
            raise self.error(err) from err
        self.tmp = Path(tmp)
        try:
            self.file: IO[Any] = os.fdopen(handle, mode, **open_kwargs)
        except BaseException:
            os.close(handle)
            self.tmp.unlink(missing_ok=True)
            raise

    def error(self, err: OSError) -> OutputError:
        """Return the one-line error for ``err`` (a full disk, a denied permission) on this file."""
        return OutputError(f"cannot write {self.path}: {why_unwritable(self.path, err)}")

    def commit(self) -> None:
        """Flush the content to disk and move it onto ``path`` (replacing any older file)."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600)
            os.replace(self.tmp, self.path)
            _fsync_folder(self.path.parent)  # so that the rename survives a power cut
        except OSError as err:
            self.abort()
            raise self.error(err) from err

    def abort(self) -> None:
        """Close and remove the temporary file; ``path`` stays as it was."""
        with contextlib.suppress(OSError):
            self.file.close()
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: Literal["w", "wb"] = "w", **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Yield a ``PartFile``'s file for writing; commit it on success, remove it on any error.

    Raises:
        OutputError: The file cannot be written (the message names ``path``).

    """
    part = PartFile(path, mode, **open_kwargs)
    try:
        yield part.file
    except OSError as err:  # e.g. "No space left on device" from a write
        part.abort()
        raise part.error(err) from err
    except BaseException:
        part.abort()
        raise
    part.commit()


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it back at once
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders: the rename is all there is
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def why_unwritable(path: Path, err: OSError) -> str:
    """Why ``path`` cannot be written, naming a file that stands where a folder should be."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return err.strerror or str(err)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) atomically."""
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(text)


def save_figure(figure: Figure, path: str | Path, dpi: int) -> None:
    """Save a matplotlib figure as PNG to ``path`` atomically."""
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format="png", dpi=dpi)
