"""One cache folder and one atomic write for everything the package keeps on disk.

Rendered video splits, the jigsaw permutation set, BoWNet's bootstrap network and the
real datasets live under ``cache_dir()``: ``$SSL_EXAMPLES_CACHE`` if set, else
``~/.cache/ssl_examples``. Every file is written to a temporary name and renamed, so a crash
or a concurrent run never leaves a half-written file; checkpoints use the same write.
"""

import os
from pathlib import Path

import torch


def cache_dir(*parts: str) -> Path:
    """The package's cache folder (not created), or a path inside it."""
    root = Path(os.environ.get("SSL_EXAMPLES_CACHE", "~/.cache/ssl_examples")).expanduser()
    return root.joinpath(*parts)


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_cached(path: Path):
    """What ``atomic_save`` wrote (tensors and plain values only), or None if the file is
    missing or unreadable (a broken cache entry is simply made again)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # missing, truncated by a full disk, written by another version
        return None


def save_cached(obj, path: Path) -> None:
    """``atomic_save`` that gives up quietly on a read-only or full disk: a cache is optional."""
    try:
        atomic_save(obj, path)
    except OSError:
        pass
