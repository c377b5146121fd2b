"""Bad deck sources fail with ``slides/<deck>.md:LINE: message``; nothing half-written."""

import re
import textwrap

import pytest

from conftest import REPO, placeholder_png, run_mkdocs
from deck_builder import build_deck, write_deck
from deck_model import DeckError


def build_text(tmp_path, text, name="x.md"):
    slides = tmp_path / "slides"
    slides.mkdir(exist_ok=True)
    (slides / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return build_deck(slides / name, label=f"slides/{name}")


@pytest.mark.parametrize("text, line, pattern", [
    ("# A\n\n.center[never closed\n\nmore text\n", 3, r"unbalanced `\.center\[`"),
    ("# A\n\n.grid[\n.kol-6-12[x]\n\n---\n\n# B ]\n", 3, r"`\.grid\[` is not closed before the slide separator"),
    ("# A\n\n---\n\nText $\\frac{1}{$ here\n", 5, r"KaTeX parse error"),
    ("# A\n\n$$\n\\begin{aligned} a &= b \\end{align}\n$$\n", 3, r"KaTeX parse error"),
    ("# A\n\n---\n\n![](images/missing.png)\n", 5, r"image `images/missing.png` not found"),
    ('# A\n\n<img src="nope.png" width="10">\n', 3, r"image `nope.png` not found"),
    ("background-image: url(images/bg.png)\n\n# A\n", 1, r"image `images/bg.png` not found"),
    ("# A\n\n![](https://example.org/a.png)\n", 3, r"outside the site"),
    ("# A\n\n---\nclas: middle\n\n# B\n", 4, r"unknown slide property `clas`"),
    ("# A\n\n---\ntemplate: nothing\n\n# B\n", 4, r"`template: nothing` names no earlier slide"),
    ("# A\n\n---\nlayout: maybe\n\n# B\n", 4, r"`layout: maybe`: must be true or false"),
])
def test_bad_deck_reports_file_and_line(tmp_path, text, line, pattern):
    with pytest.raises(DeckError) as info:
        build_text(tmp_path, text)
    message = str(info.value)
    first = message.splitlines()[0]
    assert first.startswith(f"slides/x.md:{line}: "), message
    assert re.search(pattern, first), message


def test_template_variable_is_a_known_property(tmp_path):
    built = build_text(tmp_path, "name: base\nlayout: true\n\n# {{ who }}\n---\nwho: Ada\n\nHi\n")
    assert built.deck.count == 1


def test_good_deck_with_images_writes_atomically(tmp_path):
    (tmp_path / "slides" / "images").mkdir(parents=True)
    (tmp_path / "slides" / "images" / "a.png").write_bytes(placeholder_png())
    built = build_text(tmp_path, "# A $x\\_1$\n\n.center.width-50[![](images/a.png)]\n")
    out = write_deck(built, tmp_path / "site")
    assert (out / "index.html").is_file() and (out / "images" / "a.png").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"
    assert (tmp_path / "site" / "assets" / "katex" / "katex.min.css").is_file()


@pytest.mark.site
def test_mkdocs_build_fails_on_broken_deck(tmp_path):
    project = tmp_path / "proj"
    (project / "docs").mkdir(parents=True)
    (project / "slides").mkdir()
    (project / "docs" / "index.md").write_text("# Home\n")
    (project / "slides" / "good.md").write_text("# Fine\n")
    (project / "slides" / "x.md").write_text("# A\n\n---\n\n# B\n\n$x^{$\n")
    (project / "mkdocs.yml").write_text(
        f"site_name: t\nhooks:\n  - {REPO / 'slides' / 'deck_builder.py'}\n")
    site = project / "site"
    proc = run_mkdocs(project / "mkdocs.yml", site)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "slides/x.md:7: KaTeX parse error" in output, output
    assert not (site / "slides" / "x").exists(), "half-written deck output left in site/"
    assert not (site / "slides" / "x" / "index.html").exists()
