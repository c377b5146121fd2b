"""MkDocs hook: a method page's "The recipe and how it was chosen", from the method's module.

A method page writes ``<!-- recipe:NAME -->`` under that heading; the build replaces it by one
paragraph (the same on every page, so it is written once, here) and the module's ``recipe``
snippet section: the recipe class, the comment with the validation numbers that chose each
default and the variants that were dropped, and ``RECIPE``. The code itself is included by
pymdownx.snippets, which runs after this hook, so a missing section fails the build as any
other include does. An unknown method name fails the build with ``page:line: message``.
"""

import re

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!-- recipe:([\w-]+) -->")

PROSE = """\
Every default that `python -m ssl_examples pretrain {name}` uses lives in one place, the
method's recipe. The comments in it give the validation numbers that chose each value, and
the variants that were tried and dropped. Only the validation split chose; the test numbers
under [Run it](#run-it) were read afterwards."""


def recipe_section(name: str) -> str:
    return f'{PROSE.format(name=name)}\n\n```python\n--8<-- "ssl_examples/methods/{name}.py:recipe"\n```'


def on_page_markdown(markdown, page, config, files):
    if "<!-- recipe:" not in markdown:
        return markdown
    from ssl_examples.methods import BY_NAME

    def replace(match):
        name = match.group(1)
        if name not in BY_NAME:
            line = markdown.count("\n", 0, match.start()) + 1
            raise PluginError(f"{page.file.src_path}:{line}: <!-- recipe:{name} -->: no such method; "
                              f"`python -m ssl_examples list` names them")
        return recipe_section(name)

    return MARKER.sub(replace, markdown)
