"""Collect artifact globs from an output dir and copy them, keeping relative paths."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path


def match_artifacts(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Files under ``root`` matching any glob (``**`` recurses), sorted, without duplicates."""
    if not root.is_dir():
        return []
    found: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file():
                found.add(path)
            elif path.is_dir() and pattern.endswith("**"):
                found.update(child for child in path.rglob("*") if child.is_file())
    return sorted(found)


def copy_artifacts(
    root: Path, patterns: Iterable[str], dest: Path, *, skip: Iterable[str] = ()
) -> list[Path]:
    """Copy matching files from ``root`` into ``dest``; return the copies."""
    skipped = set(skip)
    copies = []
    for path in match_artifacts(root, patterns):
        relative = path.relative_to(root)
        if relative.as_posix() in skipped:
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        shutil.copy2(path, tmp)
        tmp.replace(target)
        copies.append(target)
    return copies
