"""The method registry is the one list of methods: everything it feeds must know each method.

A registered method needs its module, its page (in the nav through the registry), its test
file, its slide in the lecture deck and its benchmark row (``tests/test_bench_tables.py``);
the formula of its module's docstring and its page's must be the same.
"""

import re
from pathlib import Path

import pytest

from ssl_examples.methods import FAMILIES, METHODS, REGISTRY

REPO = Path(__file__).parents[1]


def docstring_formulas(doc: str) -> list[str]:
    """The display formulas (``.. math::`` blocks) of a reStructuredText docstring."""
    out = []
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. math::":
            block = []
            for following in lines[i + 1:]:
                if not following.strip():
                    if block:
                        break
                    continue
                if not following.startswith("    "):
                    break
                block.append(following.strip())
            out.append(" ".join(block))
    return out


def squeeze(tex: str) -> str:
    return re.sub(r"\s+", "", tex)


@pytest.mark.parametrize("method", REGISTRY, ids=lambda m: m.name)
def test_every_registered_method_has_its_module_page_test_and_slide(method):
    assert method.family in FAMILIES
    assert METHODS[method.name].build and METHODS[method.name].RECIPE
    assert (REPO / "docs" / method.page).is_file(), f"no page docs/{method.page}"
    assert (REPO / "tests" / f"test_{method.name}.py").is_file(), f"no tests/test_{method.name}.py"
    deck = (REPO / "slides" / "self-supervised-learning.md").read_text()
    assert re.search(rf"^name: {re.escape(method.slug)}$", deck, re.M), f"no slide named {method.slug} in the deck"


@pytest.mark.parametrize("method", REGISTRY, ids=lambda m: m.name)
def test_docstring_formulas_appear_on_the_page(method):
    formulas = docstring_formulas(METHODS[method.name].__doc__)
    assert formulas, f"{method.name}: the docstring has no .. math:: block"
    page = (REPO / "docs" / method.page).read_text()
    on_page = {squeeze(block) for block in re.findall(r"\$\$(.*?)\$\$", page, re.S)}
    for formula in formulas:
        assert squeeze(formula) in on_page, f"{method.name}: docstring formula not on its page:\n{formula}"


def test_the_navigation_is_filled_from_the_registry():
    import yaml  # PyYAML comes with MkDocs

    from methods_nav import method_sections  # docs/hooks/ is on pytest's pythonpath

    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    assert "- Methods: []" in (REPO / "mkdocs.yml").read_text()
    pages = [page for section in method_sections() for entries in section.values() for e in entries
             for page in e.values()]
    assert pages == [m.page for m in REGISTRY]
    assert config["hooks"][0].endswith("methods_nav.py")


@pytest.mark.parametrize("method", REGISTRY, ids=lambda m: m.name)
def test_the_recipe_is_the_one_place_a_default_lives(method):
    """The model's constructor takes the recipe's values by keyword, with no defaults of its
    own (a default beside the recipe's would drift from it), and the recipe passes the checks."""
    import inspect

    from torch import nn

    from ssl_examples.checks import check_recipe

    module = METHODS[method.name]
    check_recipe(module.RECIPE, module)
    models = [obj for obj in vars(module).values() if inspect.isclass(obj) and issubclass(obj, nn.Module)
              and obj.__module__ == module.__name__ and "backbone" in inspect.signature(obj.__init__).parameters]
    assert models, f"{method.name}: no model class taking a backbone"
    for cls in models:
        params = inspect.signature(cls.__init__).parameters.values()
        with_defaults = [p.name for p in params if p.default is not p.empty]
        assert not with_defaults, f"{cls.__name__} has defaults of its own: {with_defaults}"
        for p in params:
            if p.kind == p.KEYWORD_ONLY:
                assert hasattr(module.RECIPE, p.name), f"{cls.__name__}({p.name}=...) is not a recipe field"


@pytest.mark.parametrize("method", REGISTRY, ids=lambda m: m.name)
def test_the_page_shows_the_recipe_and_how_it_was_chosen(method):
    """The page includes the module's recipe section, and that section holds the recipe class,
    ``RECIPE`` and a comment with validation numbers (the evidence behind each default)."""
    source = (REPO / "ssl_examples" / "methods" / f"{method.name}.py").read_text()
    section = re.search(r"^# --8<-- \[start:recipe\]\n(.*?)^# --8<-- \[end:recipe\]", source, re.S | re.M)
    assert section, f"{method.name}: no recipe snippet section in its module"
    body = section.group(1)
    assert re.search(r"^class \w+Recipe\(", body, re.M), f"{method.name}: the recipe class is not in the section"
    assert re.search(r"^RECIPE = ", body, re.M), f"{method.name}: RECIPE is not in the section"
    assert body.count("(") == body.count(")"), f"{method.name}: the section cuts a statement"
    assert re.search(r"^#.*[Vv]alidation", body, re.M), f"{method.name}: no validation numbers in the recipe comment"
    page = (REPO / "docs" / method.page).read_text()
    heading = page.find("## The recipe and how it was chosen")
    assert heading >= 0, f"{method.name}: its page has no section 'The recipe and how it was chosen'"
    assert f"<!-- recipe:{method.name} -->" in page[heading:].split("\n## ")[0], \
        f"{method.name}: that section does not include the recipe (<!-- recipe:{method.name} -->)"


def test_the_recipe_marker_becomes_the_paragraph_and_the_snippet_include():
    """docs/hooks/recipes.py writes the include pymdownx.snippets then resolves, and refuses an
    unknown method with the page and line."""
    from types import SimpleNamespace

    from mkdocs.exceptions import PluginError
    from recipes import on_page_markdown  # docs/hooks/ is on pytest's pythonpath

    page = SimpleNamespace(file=SimpleNamespace(src_path="methods/x.md"))
    out = on_page_markdown("# X\n\n<!-- recipe:rotation -->\n", page, {}, None)
    assert '```python\n--8<-- "ssl_examples/methods/rotation.py:recipe"\n```' in out
    assert "pretrain rotation" in out and "<!--" not in out
    with pytest.raises(PluginError, match=r"^methods/x\.md:3: .*no such method"):
        on_page_markdown("# X\n\n<!-- recipe:rotaton -->\n", page, {}, None)
