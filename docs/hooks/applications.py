"""MkDocs hook: the application pages show the numbers their command stored.

``python -m ssl_examples apply NAME`` writes ``docs/results/applications/NAME.json`` with a
``"test"`` part (the reported tables) and ``python -m ssl_examples apply NAME --select`` a
``"selection"`` part (the validation runs that chose the hyper-parameters). A page writes a
marker where they belong, and the build replaces it:

* ``<!-- application:tables NAME -->``: every table of the test run, then how it was made;
* ``<!-- application:table NAME ID -->``: one table of the test run by its ``id``;
* ``<!-- application:selection NAME -->``: the selection tables, then how they were made;
* ``<!-- application:headline NAME -->``: one sentence with the headline number (the one the
  slides quote), from ``tables.headline``.

A part not stored yet is shown as a note naming the command to run; an unknown marker, an
unknown application or a table id that the results do not have fails the build. Tables are
formatted by ``ssl_examples/applications/tables.py``, the same code that prints them.
"""

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!-- application:([\w-]+)((?: [\w-]+)*) -->")


def load(docs_dir: str, name: str) -> dict:
    path = Path(docs_dir) / "results" / "applications" / f"{name}.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise PluginError(f"{path}: not valid JSON ({e})") from None


def not_run(command: str) -> str:
    return (f'!!! warning "Not run yet"\n    Run `{command}` to store these numbers '
            f"(they are rendered here at build time).")


def provenance(part: dict, what: str) -> str:
    return (f"*{what} by `{part['command']}` on {part['updated']}: {part['cpu_seconds']:.0f} s of CPU time "
            f"with {part['threads']} thread{'s' * (part['threads'] != 1)} ({part['wall_seconds']:.0f} s wall on a "
            f"shared machine), torch {part['machine']['torch']}, {part['machine']['processor']}.*")


def render(kind: str, args: list[str], docs_dir: str, where: str) -> str:
    from ssl_examples.applications import BY_NAME
    from ssl_examples.applications.tables import headline, markdown_table

    if kind not in ("tables", "table", "selection", "headline"):
        raise PluginError(f"{where}: unknown marker <!-- application:{kind} -->")
    if not args or args[0] not in BY_NAME:
        raise PluginError(f"{where}: <!-- application:{kind} --> needs an application name, one of {', '.join(BY_NAME)}")
    name = args[0]
    results = load(docs_dir, name)
    part_name = "selection" if kind == "selection" else "test"
    command = f"python -m ssl_examples apply {name}" + (" --select" if kind == "selection" else "")
    part = results.get(part_name)
    if part is None:
        return not_run(command)
    if kind == "headline":
        try:
            return headline(BY_NAME[name], part)
        except ValueError as e:
            raise PluginError(f"{where}: {name}: {e}; run {command} again") from None
    tables = part["tables"]
    if kind == "table":
        wanted = [t for t in tables if len(args) > 1 and t["id"] == args[1]]
        if not wanted:
            raise PluginError(f"{where}: {name} has no table {args[1:] or '(none given)'}; "
                              f"it has {', '.join(t['id'] for t in tables)}")
        return markdown_table(wanted[0])
    text = "\n\n".join(markdown_table(t) for t in tables)
    return text + "\n\n" + provenance(part, "Chosen" if kind == "selection" else "Measured")


def on_config(config, **kwargs):
    from ssl_examples.applications import REGISTRY

    missing = [a.page for a in REGISTRY if not (Path(config["docs_dir"]) / a.page).is_file()]
    if missing:
        raise PluginError(f"registered applications without a page: {', '.join(missing)}")
    return config


def in_code(line: str, position: int) -> bool:
    """Whether ``position`` lies inside a `code span` (a page that writes about a marker)."""
    return line[:position].count("`") % 2 == 1


def on_page_markdown(markdown, page, config, files):
    if "<!-- application:" not in markdown:
        return markdown
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        where = f"{page.file.src_path}:{i + 1}"
        lines[i] = MARKER.sub(lambda m: m.group(0) if in_code(line, m.start()) else
                              render(m.group(1), m.group(2).split(), config["docs_dir"], where), line)
    return "\n".join(lines)
