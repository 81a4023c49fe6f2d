"""Content hashes: how a file, an upload or a stored text is recognised (the app's caches, the store's
datasets and versions all key on these)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_digest", "bytes_digest", "text_digest"]

_BLOCK = 1 << 20


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (a large file is never held whole)."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            sha.update(block)
    return sha.hexdigest()


def bytes_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def text_digest(text: str) -> str:
    return bytes_digest(text.encode())
