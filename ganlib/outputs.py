"""The command line's output files: checked before any training, written whole or not at all.

`check_outputs` refuses, in one line each, a path whose folder is missing or not writable, a path
that is a folder, and two outputs on one path (`--json r --samples r` would let the second file
overwrite the first). It runs before training, so a typo costs no training time.

`printing` marks where a command prints its report: a reader that closes stdout early (`| head`)
raises BrokenPipeError there, which it turns into `StdoutClosed`, so the command line can tell it
from a broken pipe of anything else and end quietly; commands write their files before printing.

`atomic_write` writes to a temporary file in the target's own folder and moves it into place with
`os.replace`, which is atomic on POSIX and Windows within one file system: a write that fails or
is interrupted midway leaves the earlier file as it was and no half-written file.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any


class StdoutClosed(Exception):
    """Stdout's reader went away while a command printed its report (see `printing`)."""


@contextlib.contextmanager
def printing() -> Iterator[None]:
    """Print to stdout inside this block: a BrokenPipeError from it becomes `StdoutClosed`."""
    try:
        yield
        # Buffered output to a pipe fails at the flush, which must happen here to be caught here.
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosed() from None


def npy_path(path: str) -> str:
    """The name np.save writes for `path`: it adds .npy to a name without it."""
    return path if path.endswith(".npy") else path + ".npy"


def check_output(flag: str, path: str | None, suffix: str = "") -> None:
    """A one-line ValueError unless `path` (with `suffix` added if missing) can be written as a file."""
    if path is None:
        return
    if not path.strip():
        raise ValueError(f"{flag} needs a file name (got an empty one)")
    target = Path(path if path.endswith(suffix) else path + suffix)
    parent = target.parent
    if target.is_dir() or Path(path).is_dir():
        raise ValueError(f"{flag} {path}: is a directory; give a file name")
    if not parent.exists():
        raise ValueError(f"{flag} {path}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: {parent} is not a directory")
    if (target.exists() and not os.access(target, os.W_OK)) or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: not writable")


def check_outputs(outputs: Sequence[tuple[str, str | None, str]]) -> None:
    """Check each (flag, path, suffix) with `check_output`, then refuse two flags that name one file.

    Paths are compared as typed and as the files they would be (suffix added, links and `..`
    resolved): `--json s.npy --samples s` is refused (np.save writes s.npy), and so is
    `--json s --samples s`, where np.save would write s.npy beside s but the same name given
    twice is a slip more often than a wish.
    """
    seen: dict[str, str] = {}
    for flag, path, suffix in outputs:
        if path is None:
            continue
        check_output(flag, path, suffix)
        names = {os.path.realpath(path), os.path.realpath(path if path.endswith(suffix) else path + suffix)}
        for real in names:
            if real in seen:
                raise ValueError(f"{seen[real]} and {flag} both write {path}: give each output its own file")
        seen.update(dict.fromkeys(names, flag))


def _new_file_mode() -> int:
    """The permissions open() would give a new file: 0o666 less the umask (mkstemp's files are 0o600)."""
    # os.umask can only be read by setting it; this process is single-threaded where it writes outputs.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str, write: Callable[[IO[Any]], object], *, text: bool = False) -> None:
    """Call `write(fh)` on a temporary file beside `path`, then move it to `path` in one step.

    `text` opens the file for text (json.dump) instead of bytes (np.save, savefig). On any
    exception, KeyboardInterrupt included, the temporary file is removed and `path` is untouched.
    The new file gets the permissions of the one it replaces, else those of a newly created file.
    A `path` that is a symbolic link is written through: the file it points to is replaced, the link stays.
    """
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w" if text else "wb") as fh:
            write(fh)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = _new_file_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["StdoutClosed", "printing", "atomic_write", "check_output", "check_outputs", "npy_path"]
