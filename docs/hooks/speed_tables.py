"""MkDocs hook: pages show the speed command's numbers, read from ``docs/results/<name>.json``.

A page writes ``<!-- speed:NAME -->`` where the tables belong; the build replaces it by every
table of ``docs/results/NAME.json`` (written by ``python -m ssl_examples speed --out ...``):
images per second, the GPU's busy fraction where it was measured, the ratios, the machine
and the command. A file that does not exist yet becomes a note naming the command to run.
"""

import json
import re
from pathlib import Path

MARKER = re.compile(r"<!-- speed:([\w-]+) -->")


def render(results: dict) -> str:
    s = results["settings"]
    parts = []
    for title, table in results.items():
        if title == "settings":
            continue
        busy = table.get("gpu_busy") or {}
        lines = [f"**{title}**", "", "| | images/s |" + (" GPU busy |" if busy else ""),
                 "|---|--:|" + ("--:|" if busy else "")]
        for name, rate in table["images_per_s"].items():
            lines.append(f"| {name} | {rate:,.0f} |" if rate >= 100 else f"| {name} | {rate:.1f} |")
            lines[-1] += (f" {100 * busy[name]:.0f} % |" if name in busy else (" |" if busy else ""))
        for pair, ratio in table.get("ratios", {}).items():
            lines.append(f"| *ratio {pair}* | *{ratio:.2f}* |" + (" |" if busy else ""))
        parts.append("\n".join(lines))
    machine = s["gpu"] or f"the CPU ({s['threads']} thread{'s' if s['threads'] != 1 else ''})"
    when = f" {s['updated']}" if s.get("updated") else ""
    parts.append(f"Measured{when} on {machine}, torch {s['torch']}, {s['backbone']}, batch {s['batch']}, "
                 f"{s['image_size']} px, precision {s['precision']}, channels_last {s['channels_last']}, "
                 f"compile {s['compile'] or 'off'}, lightly's DataLoader with {s['lightly_workers']} workers, "
                 f"median of {s['rounds']} round(s); an image's two views count once. Command: "
                 f"`{s.get('command', 'python -m ssl_examples speed')}`.")
    return "\n\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if "<!-- speed:" not in markdown:
        return markdown

    def replace(match):
        path = Path(config["docs_dir"]) / "results" / f"{match.group(1)}.json"
        if not path.exists():
            return (f'!!! warning "Not measured yet"\n    Run `python -m ssl_examples speed ... '
                    f'--out docs/results/{path.name}` to fill this table.')
        return render(json.loads(path.read_text()))

    return MARKER.sub(replace, markdown)
