"""The deck builder stays a set of small, light modules (issue: one home for each idea)."""

import subprocess
import sys

from conftest import REPO, SLIDES


def test_no_file_in_slides_is_long():
    """Code in slides/ comes in files of at most ~400 lines (decks are Markdown, not code)."""
    long = {p.name: n for p in sorted(SLIDES.iterdir()) if p.suffix in (".py", ".js", ".css")
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > 420}
    assert not long, f"split these by concern: {long}"


def test_hook_imports_nothing_heavy():
    """`mkdocs serve` loads the hook on every rebuild: no torch, no ssl_examples."""
    code = ("import sys; sys.path.insert(0, 'slides'); import deck_builder, handout; "
            "print(sorted(m for m in ('torch', 'ssl_examples', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
