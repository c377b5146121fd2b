"""What a deck loads: named for what it is, refused from outside unless the deck opts in."""

import re
import subprocess
import sys
import textwrap

import pytest
from deck_builder import build_deck
from deck_media import find_media
from deck_model import DeckError
from deck_parser import parse_deck

from conftest import REPO, placeholder_png, run_mkdocs

VIDEO = """\
# Tracking

<video controls width="80%">
  <source src="https://media.example.org/clips/dance.mp4" type="video/mp4">
</video>
"""
AUDIO = """\
# Listen

<audio controls src="https://sounds.example.net/bark.ogg"></audio>
"""


def write(tmp_path, text, name="x.md"):
    slides = tmp_path / "slides"
    slides.mkdir(exist_ok=True)
    (slides / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return slides / name


def build_text(tmp_path, text):
    return build_deck(write(tmp_path, text), label="slides/x.md")


def first_error(tmp_path, text):
    with pytest.raises(DeckError) as info:
        build_text(tmp_path, text)
    return str(info.value).splitlines()[0]


@pytest.mark.parametrize("text, line, kind", [
    (VIDEO, 4, "video"),
    (AUDIO, 3, "audio"),
    ('# A\n\n<picture>\n<source srcset="https://x.org/a.webp 1x">\n<img src="a.png">\n</picture>\n', 4, "image"),
    ('# A\n\n<iframe src="https://www.example.com/embed/1"></iframe>\n', 3, "iframe"),
    ('# A\n\n<video src="https://x.org/a.mp4" controls></video>\n', 3, "video"),
    ('# A\n\n<video controls>\n<track src="https://x.org/a.vtt">\n</video>\n', 4, "text track"),
    ('# A\n\n<div style="background: url(https://x.org/bg.jpg)">x</div>\n', 3, "image"),
    ("background-image: url(https://x.org/bg.jpg)\n\n# A\n", 1, "background image"),
])
def test_outside_media_named_for_what_it_is(tmp_path, text, line, kind):
    first = first_error(tmp_path, text)
    assert first.startswith(f"slides/x.md:{line}: {kind} `https://"), first
    assert "is outside the site" in first and "allow-remote-media: true" in first, first


def test_video_with_opt_in_builds_and_outline_says_so(tmp_path):
    built = build_text(tmp_path, "allow-remote-media: true\n\n" + VIDEO + "\n---\n\n" + AUDIO)
    assert built.deck.allow_remote_media
    assert [(m.kind, m.ref) for m in built.remote] == [
        ("video", "https://media.example.org/clips/dance.mp4"), ("audio", "https://sounds.example.net/bark.ogg")]
    assert built.files == {}                      # nothing to copy
    notice = built.outline.split("## Outline")[0]
    assert '!!! warning "This deck loads media from other sites"' in notice
    assert "video from `media.example.org`" in notice and "audio from `sounds.example.net`" in notice
    # remark ignores the option like any property: it is not left in the slide's text
    assert "allow-remote-media" not in built.deck.slides[0].content


@pytest.mark.parametrize("text, line, pattern", [
    ("allow-remote-media: yes\n\n# A\n", 1, r"`allow-remote-media: yes`: must be true or false"),
    ("# A\n\n---\nallow-remote-media: true\n\n# B\n", 4, r"an option of the whole deck: put it on the deck's first slide"),
    ("allow-remote-media: true\n\n# A\n\n<video src=\"http://x.org/a.mp4\"></video>\n", 5, r"video `http://x\.org/a\.mp4`: .* https:// only"),
])
def test_bad_opt_in(tmp_path, text, line, pattern):
    first = first_error(tmp_path, text)
    assert first.startswith(f"slides/x.md:{line}: "), first
    assert re.search(pattern, first), first


def test_local_media_copied_missing_media_named(tmp_path):
    (tmp_path / "slides" / "clips").mkdir(parents=True)
    (tmp_path / "slides" / "clips" / "a.mp4").write_bytes(b"\0")
    (tmp_path / "slides" / "clips" / "p.png").write_bytes(placeholder_png())
    built = build_text(tmp_path, '# A\n\n<video controls poster="clips/p.png"><source src="clips/a.mp4"></video>\n')
    assert sorted(built.files) == ["clips/a.mp4", "clips/p.png"]
    first = first_error(tmp_path, '# A\n\n<audio controls>\n<source src="clips/b.ogg">\n</audio>\n')
    assert first.startswith("slides/x.md:4: audio `clips/b.ogg` not found"), first


def test_media_in_code_is_not_loaded():
    deck = parse_deck('# A\n\n```html\n<video src="https://x.org/a.mp4"></video>\n```\n\n'
                      'Inline: `<img src="https://x.org/b.png">`\n', "slides/x.md")
    assert find_media(deck) == []


@pytest.mark.site
def test_mkdocs_builds_an_opted_in_deck(tmp_path):
    project = tmp_path / "proj"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "index.md").write_text("# Home\n")
    write(project, "allow-remote-media: true\n\n" + VIDEO, name="remote.md")
    (project / "mkdocs.yml").write_text(
        "site_name: t\nmarkdown_extensions: [admonition]\n"
        f"hooks:\n  - {REPO / 'slides' / 'deck_builder.py'}\n")
    proc = run_mkdocs(project / "mkdocs.yml", project / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outline = (project / "site" / "lecture" / "slides" / "remote" / "index.html").read_text()
    assert "This deck loads media from other sites" in outline and "media.example.org" in outline


def test_command_line_names_the_video_in_one_line(tmp_path):
    deck = write(tmp_path, VIDEO)
    proc = subprocess.run([sys.executable, str(REPO / "slides" / "deck_builder.py"), str(deck)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("slides/x.md:4: video `https://"), proc.stderr
