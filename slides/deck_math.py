"""Render the decks' TeX with KaTeX: one node process per build, results cached on disk.

Each formula is rendered at build time (``katex_render.js``), so remark's Markdown parser never
sees TeX and the browser only inserts finished HTML (with KaTeX's MathML for screen readers).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent

_MEMORY_CACHE: dict[str, dict] = {}


def _katex_version(node_modules: Path) -> str:
    try:
        return json.loads((node_modules / "katex" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def render_math(items: list[tuple[str, bool]], *, node_modules: Path | None = None,
                cache_file: Path | None = None) -> list[dict]:
    """Render ``(tex, display)`` pairs; each result is ``{"html": ...}`` or ``{"error": ...}``."""
    node_modules = node_modules or find_node_modules()
    version = _katex_version(node_modules)

    def key(tex, display):
        return hashlib.sha256(f"{version}\0{int(display)}\0{tex}".encode()).hexdigest()

    cache = _MEMORY_CACHE
    if cache_file is not None and cache_file.exists() and not cache.get("__loaded__" + str(cache_file)):
        try:
            cache.update(json.loads(cache_file.read_text()))
        except (OSError, ValueError):
            pass
        cache["__loaded__" + str(cache_file)] = {"html": ""}
    todo = []
    for tex, display in items:
        k = key(tex, display)
        if k not in cache and (tex, display) not in todo:
            todo.append((tex, display))
    if todo:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is needed to render the decks' math with KaTeX (install Node.js 20)")
        env = dict(os.environ, NODE_PATH=str(node_modules))
        proc = subprocess.run([node, str(HERE / "katex_render.js")],
                              input=json.dumps([{"tex": t, "display": d} for t, d in todo]),
                              capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"KaTeX renderer failed: {proc.stderr.strip()}")
        results = json.loads(proc.stdout)
        fresh = {}
        for (tex, display), res in zip(todo, results):
            k = key(tex, display)
            cache[k] = res
            if "html" in res:
                fresh[k] = res
        if cache_file is not None and fresh:
            try:
                stored = json.loads(cache_file.read_text()) if cache_file.exists() else {}
            except (OSError, ValueError):
                stored = {}
            stored.update(fresh)
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored))
            tmp.replace(cache_file)
    return [cache[key(t, d)] for t, d in items]


def find_node_modules(*starts: Path) -> Path:
    for start in [*starts, Path.cwd(), HERE.parent]:
        for d in [start, *start.parents]:
            if (d / "node_modules" / "katex").is_dir():
                return d / "node_modules"
    raise RuntimeError("node_modules/katex not found: run `npm ci --no-audit --no-fund` (make setup)")
