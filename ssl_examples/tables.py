"""Stored output of a method's own evaluation (``docs/results/<method>.json``).

Some methods are judged by more than the shared probes: mask propagation for tracking by
colorization, audio-visual correspondence for Look, Listen and Learn. Their ``main()`` prints
a table and stores it here; the pages render it at build time (``<!-- results:NAME -->``,
``docs/hooks/bench_tables.py``), so no number on a page is typed by hand.

The JSON: ``title``, ``columns`` (the first names the rows), ``rows`` (``[label, value, ...]``,
accuracies in [0, 1]), ``highlight`` (the row to set in bold), ``commands`` (what produced it),
``recipe`` (the pre-training recipe of the checkpoint), ``machine`` and ``updated``.
"""

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch


def save_table(path: Path, *, title: str, columns: list[str], rows: list[list], commands: list[str],
               recipe: dict, highlight: int | None = None) -> None:
    """Write the table atomically (a temporary file renamed into place)."""
    path = Path(path)
    table = {"title": title, "columns": columns, "rows": rows, "highlight": highlight, "commands": commands,
             "recipe": recipe,
             "machine": {"platform": platform.platform(), "threads": torch.get_num_threads(),
                         "torch": torch.__version__},
             "updated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")
