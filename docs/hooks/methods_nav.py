"""MkDocs hook: the navigation's "Methods" section, written from the method registry.

``ssl_examples/methods/__init__.py`` holds the only list of methods (``REGISTRY``, with each
method's title and family); ``mkdocs.yml`` leaves ``Methods: []`` empty and this hook fills it
with one sub-section per family, in the registry's order. A registered method without its
page fails the build. The registry module imports no torch, so this costs nothing.
"""

from pathlib import Path

from mkdocs.exceptions import PluginError


def method_sections() -> list[dict]:
    from ssl_examples.methods import FAMILIES, REGISTRY

    sections = []
    for family, title in FAMILIES.items():
        pages = [{m.title: m.page} for m in REGISTRY if m.family == family]
        if pages:
            sections.append({title: pages})
    return sections


def _fill(nav: list) -> bool:
    """Replace the first empty ``Methods`` entry found (at any depth); True when done."""
    for item in nav:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "Methods" and value == []:
                    item[key] = method_sections()
                    return True
                if isinstance(value, list) and _fill(value):
                    return True
    return False


def on_config(config, **kwargs):
    from ssl_examples.methods import REGISTRY

    missing = [m.page for m in REGISTRY if not (Path(config["docs_dir"]) / m.page).is_file()]
    if missing:
        raise PluginError(f"registered methods without a page: {', '.join(missing)}")
    if config["nav"] is not None and not _fill(config["nav"]):
        raise PluginError("mkdocs.yml: the navigation needs an empty 'Methods: []' entry for the method pages")
    return config
