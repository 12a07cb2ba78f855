"""Write files atomically: a temporary file in the same directory, flushed, then a rename.

Temporary files are named ``.<target name>.<writer pid>.<random>.tmp``. A process killed while
writing leaves one behind; :func:`remove_stale_temps` deletes those whose writer is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_path_for(target: Path) -> Path:
    """A fresh temporary path beside ``target``, created empty (so no other writer takes it)."""
    while True:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be synced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The data reaches the disk before the rename, so ``target`` is always either the old file or
    the complete new one, even after a crash. On any exception the temporary file is removed
    and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
            _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: str | os.PathLike[str], data: Any) -> None:
    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def stale_temps(directory: str | os.PathLike[str], target_name: str | None = None) -> list[Path]:
    """Temporary files in ``directory`` (of ``target_name`` only, if given) whose writer has
    exited: what a killed atomic write leaves behind."""
    directory = Path(directory)
    found = []
    with contextlib.suppress(OSError):
        for path in directory.iterdir():
            match = _TEMP_RE.match(path.name)
            if not match or (target_name is not None and match["name"] != target_name):
                continue
            if not _alive(int(match["pid"])):
                found.append(path)
    return sorted(found)


def remove_stale_temps(
    directory: str | os.PathLike[str], target_name: str | None = None
) -> list[Path]:
    """Delete :func:`stale_temps`; return what was removed."""
    removed = []
    for path in stale_temps(directory, target_name):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
