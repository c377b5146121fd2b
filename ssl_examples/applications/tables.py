"""An application's results as tables: the same cells on the terminal and on its page.

A table is a plain dict, stored in the application's JSON as the command made it:

    {"id": "corruptions", "title": "...", "row_header": "corruption",
     "columns": ["supervised", "+ rotation head"],      # the first column is the baseline
     "scale": 100, "digits": 1, "unit": "%", "gain": true,
     "rows": [{"label": "clean", "cells": [[0.81, 0.80, 0.82], [0.83, 0.82, 0.84]]}, ...]}

A cell is a list of per-seed values (shown as mean ± 95 % Student-t interval, ``stats.py``)
or ``{"mean": m, "half": h}`` when the interval was computed another way (e.g. over
few-shot episodes). With ``"gain": true`` every column after the first gets a paired gain
over the first, seed by seed. This module imports no torch: the site's hook uses it.
"""

from ..stats import format_interval, gain_interval


def _number(x: float, table: dict, signed: bool = False) -> str:
    v = table.get("scale", 1) * x
    return f"{v:+.{table.get('digits', 1)}f}" if signed else f"{v:.{table.get('digits', 1)}f}"


def cell_text(cell, table: dict) -> str:
    if isinstance(cell, dict):
        return f"{_number(cell['mean'], table)} ± {_number(cell['half'], table)}"
    return format_interval(cell, table.get("scale", 1), table.get("digits", 1))


def gain_text(cell, baseline, table: dict) -> str:
    if isinstance(cell, dict) or isinstance(baseline, dict) or len(cell) < 2:
        return "–"
    mean, half = gain_interval(cell, baseline)
    return f"{_number(mean, table, signed=True)} ± {_number(half, table)}"


def header(table: dict) -> list[str]:
    unit = f" ({table['unit']})" if table.get("unit") else ""
    cols = [f"{c}{unit}" for c in table["columns"]]
    gains = [f"gain: {c}" for c in table["columns"][1:]] if table.get("gain") else []
    return [table["row_header"]] + cols + gains


def body(table: dict) -> list[list[str]]:
    rows = []
    for row in table["rows"]:
        cells = [cell_text(c, table) for c in row["cells"]]
        if table.get("gain"):
            cells += [gain_text(c, row["cells"][0], table) for c in row["cells"][1:]]
        rows.append([row["label"]] + cells)
    return rows


def text_table(table: dict) -> str:
    """The table for the terminal: a title line and aligned columns."""
    lines = [header(table)] + body(table)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = [table["title"]]
    for line in lines:
        out.append("  " + line[0].ljust(widths[0]) + "".join(f"  {c:>{w}}" for c, w in zip(line[1:], widths[1:])))
    return "\n".join(out)


def markdown_table(table: dict) -> str:
    """The table for a page (Markdown), its title as a caption line under it."""
    head = header(table)
    lines = ["| " + " | ".join(head) + " |", "|---" + "|--:" * (len(head) - 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body(table)]
    return "\n".join(lines) + f"\n\n*{table['title']}*"


def headline(app, part: dict) -> str:
    """One sentence with an application's headline number, for slides and pages: the cell
    ``app.headline`` names beside the baseline's, and the paired gain."""
    table_id, row_label, column = app.headline
    table = next((t for t in part["tables"] if t["id"] == table_id), None)
    row = next((r for r in table["rows"] if r["label"] == row_label), None) if table else None
    if row is None:
        raise ValueError(f"the stored results have no table {table_id!r} with a row {row_label!r}")
    unit = " %" if table.get("unit") == "%" else ""
    points = " points" if table.get("unit") == "%" else ""
    return (f"{row_label}: {cell_text(row['cells'][column], table)}{unit} with {table['columns'][column]} against "
            f"{cell_text(row['cells'][0], table)}{unit} with {table['columns'][0]} (paired gain "
            f"{gain_text(row['cells'][column], row['cells'][0], table)}{points}; mean ± 95 % interval over "
            f"{len(row['cells'][0])} seeds)")

