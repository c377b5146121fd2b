"""The seed deck (a real remark lecture by other authors) builds as remark showed it."""

import re

from conftest import SLIDES


def test_seed_counts_like_remark(seed_build):
    built, _site = seed_build
    deck = built.deck
    # remark 0.14 on this source: 98 slides, 70 counted (checked in the browser test too)
    assert deck.count == 98
    assert deck.counted == 70 and deck.total == 70
    assert deck.errors == []


def test_seed_math(seed_build):
    built, _site = seed_build
    assert len(built.deck.formulas) == 28
    assert all("html" in r for r in built.math), [r for r in built.math if "error" in r]
    by_tex = [(f.tex, r["html"]) for f, r in zip(built.deck.formulas, built.math)]
    softmax = [h for t, h in by_tex if t.startswith(r"\mathcal{L}_{\text{")]
    assert len(softmax) == 2
    for html in softmax:
        assert "<msub>" in html and "<em>" not in html
    aligned = [h for t, h in by_tex if r"\begin{aligned}" in t]
    assert len(aligned) == 4
    for html in aligned:
        assert html.count("<mtr>") >= 2   # one row per line of the aligned block
    percent = [t for t, _ in by_tex if "%" in t]
    assert len(percent) == 3
    assert all(r"\%" in t and r"\\%" not in t for t in percent)


def test_seed_classes_all_styled(seed_build):
    built, _site = seed_build
    css = (SLIDES / "deck.css").read_text()
    selectors = set(re.findall(r"\.([A-Za-z][\w-]*)", re.sub(r"/\*.*?\*/", "", css, flags=re.S)))
    missing = sorted(built.deck.used_classes() - selectors)
    assert not missing, f"classes without a CSS rule: {missing}"


def test_seed_written(seed_build):
    built, site = seed_build
    out = site / "slides" / "seed"
    assert (out / "index.html").is_file()
    assert len(list((out / "images").rglob("*.*"))) == 68
