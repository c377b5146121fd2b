"""The deck parser follows remark 0.14: splitting, properties, layouts, numbering, math."""

import pytest

from deck_lexer import find_formulas, unescape_markdown
from deck_parser import parse_deck

DECK = """\
layout: true

.footer[Course footer]

---

class: center, middle
count: false
name: title

# Title

???

Speaker notes here.

---

# Second

- one
--

- two
--

- three

---
count:false
class: middle

# Repeat of second

---
template: title

Extra text

---
layout: false

# No footer here
"""


def test_split_layout_and_numbering():
    deck = parse_deck(DECK, "slides/t.md")
    assert deck.errors == []
    # layout slides are not slides; `--` steps are separate slides
    assert deck.count == 7
    assert [s.counted for s in deck.slides] == [False, True, False, False, False, True, True]
    assert [s.number for s in deck.slides] == [1, 1, 1, 1, 1, 2, 3]
    assert deck.counted == 3 and deck.total == 3
    assert [s.index for s in deck.slides] == list(range(1, 8))
    assert len(deck.layouts) == 1


def test_properties_and_inheritance():
    deck = parse_deck(DECK, "slides/t.md")
    title, second, step2, step3, repeat, templated, nofooter = deck.slides
    assert title.own_properties == {"class": "center, middle", "count": "false", "name": "title"}
    assert title.line == 6   # the line after its separator
    assert "Course footer" in title.content and "Course footer" not in title.body
    assert title.notes.strip() == "Speaker notes here."
    assert "Speaker notes" not in title.content
    # continuation repeats the previous step and adds to it
    assert step2.step == 1 and step3.step == 2 and second.step == 0
    assert "- one" in step3.content and "- two" in step3.content and "- three" in step3.content
    assert step3.properties["count"] == "false"
    # `count:false` without a space is a property too
    assert repeat.own_properties["count"] == "false"
    # template: class is concatenated, content prepended, count/name not inherited
    assert templated.properties["class"] == "center, middle"
    assert "# Title" in templated.content and "Extra text" in templated.content
    assert templated.counted
    # layout: false ends the layout
    assert "Course footer" not in nofooter.content


def test_property_lines_and_html_comment_property():
    deck = parse_deck("# A\n\n---\n\n<!-- class: middle -->\n# B\n", "slides/t.md")
    assert deck.slides[1].properties["class"] == "middle"
    assert deck.raw[1].property_lines["class"] == 5


def test_separator_inside_fenced_code_is_not_a_slide():
    deck = parse_deck("# A\n\n```\n---\n```\n\n---\n\n# B\n", "slides/t.md")
    assert deck.count == 2


def test_exclude_drops_slide():
    deck = parse_deck("# A\n---\nexclude: true\n# B\n---\n# C\n", "slides/t.md")
    assert [s.own_content.strip() for s in deck.slides] == ["# A", "# C"]


def test_content_classes_nested_and_chained():
    deck = parse_deck(".grid[\n.kol-6-12[a]\n.kol-6-12[.center.width-60[b]]\n]\n", "slides/t.md")
    classes = [c.classes for c in deck.raw[0].classes]
    assert classes == [["grid"], ["kol-6-12"], ["kol-6-12"], ["center", "width-60"]]
    assert deck.raw[0].classes[0].block and not deck.raw[0].classes[1].block


@pytest.mark.parametrize("source, expected", [
    (r"w\_i", "w_i"),
    (r"\\{ k \\}", r"\{ k \}"),
    (r"a \\\\ b", r"a \\ b"),
    (r"1\\%", r"1\%"),
    (r"\%", r"\%"),
    (r"\frac{a}{b}", r"\frac{a}{b}"),
    (r"\*\#\+\-\.\!\>\`\(\)\[\]", "*#+-.!>`()[]"),
    (r"\alpha \beta", r"\alpha \beta"),
    (r"x\_{\text{soft}}", r"x_{\text{soft}}"),
    ("a &lt; b", "a < b"),
    ("a &= b", "a &= b"),
])
def test_unescape_like_marked(source, expected):
    assert unescape_markdown(source) == expected


def test_find_formulas_skips_code_and_keeps_lines():
    text = "Price `$5` and $x\\_1$\n\n```\ncost = $10 + $20\n```\n\n$$\na \\\\\\\\ b\n$$\n\\$ not math $y$"
    found = find_formulas(text)
    assert [(f.tex, f.display, f.line) for f in found] == [
        ("x_1", False, 1), (r"a \\ b", True, 7), ("y", False, 10)]
