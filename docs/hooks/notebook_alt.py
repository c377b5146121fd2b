"""MkDocs hook: alt text for the figures a notebook draws.

nbconvert's HTML template has no place for an image output's alt text, so every plot a
notebook page shows gets "No description has been provided for this image". A notebook
cell that draws a figure says what it shows on its ``# %%`` line (jupytext keeps it as
the cell's metadata)::

    # %% alt="Four world images, each with its centre patch and one numbered neighbour"
    fig, axes = plt.subplots(4, 3)

and this hook puts that text on the cell's images once mkdocs-jupyter has rendered the
page. A cell whose output has an image and whose ``# %%`` line has no ``alt`` fails the
build with the notebook's file and line.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

PLACEHOLDER = 'alt="No description has been provided for this image"'
# mkdocs-jupyter writes one element with an id per notebook cell, in notebook order.
CELL = re.compile(r'<div class="jp-Cell [^"]*" id="cell-id=[^"]*">')
CELL_MARK = re.compile(r"^# %%(.*)$", re.M)


def cell_lines(source: str) -> list[int]:
    """1-based line where each cell of a jupytext percent source starts."""
    lines = [source.count("\n", 0, m.start()) + 1 for m in CELL_MARK.finditer(source)]
    if not source.lstrip().startswith("# %%"):
        lines.insert(0, 1)  # code before the first marker is a cell too
    return lines


def add_alt_texts(page_html: str, cells: list[dict], lines: list[int], where: str) -> str:
    """Replace the placeholder alt of each cell's images with the cell's ``alt``.

    ``cells`` is the notebook's cell metadata in order; ``lines`` the line of each cell.
    Raises ``ValueError`` naming ``where:line`` for an image in a cell without ``alt``.
    """
    starts = [m.start() for m in CELL.finditer(page_html)]
    if len(starts) != len(cells):
        raise ValueError(f"{where}: {len(starts)} rendered cells for {len(cells)} notebook cells")
    bounds = starts + [len(page_html)]
    out, problems = [page_html[:starts[0]] if starts else page_html], []
    for i, meta in enumerate(cells):
        piece = page_html[bounds[i]:bounds[i + 1]]
        if PLACEHOLDER in piece:
            alt = str(meta.get("alt", "")).strip()
            if alt:
                piece = piece.replace(PLACEHOLDER, f'alt="{html.escape(alt, quote=True)}"')
            else:
                line = lines[i] if i < len(lines) else 1
                problems.append(f'{where}:{line}: this cell draws an image: say what it shows '
                                f'with alt="..." on its "# %%" line')
        out.append(piece)
    if problems:
        raise ValueError("\n".join(problems))
    return "".join(out)


def on_page_content(page_html, page, config, files, **kwargs):
    src = page.file.src_path
    if not (src.startswith("notebooks/") and src.endswith(".py")) or PLACEHOLDER not in page_html:
        return page_html
    import jupytext
    from mkdocs.exceptions import PluginError

    path = Path(page.file.abs_src_path)
    source = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(source, fmt="py:percent")
    try:
        return add_alt_texts(page_html, [c.metadata for c in notebook.cells], cell_lines(source),
                             f"docs/{src}")
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
