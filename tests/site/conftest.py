"""Fixtures for the site tests: one strict build per session, a static server, Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
import yaml
from deck_builder import build_deck, write_deck  # slides/ is on pytest's pythonpath
from deck_media import find_media
from deck_parser import parse_deck

REPO = Path(__file__).resolve().parents[2]
SLIDES = REPO / "slides"
SEED_DIR = REPO.parent / "shared" / "fixtures" / "seed-deck"
SEED_NAME = "18-02-self-supervised-learning.md"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
PAGES_WORKFLOW = REPO / ".github" / "workflows" / "pages.yml"


def mkdocs_env() -> dict:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_mkdocs(config: Path, site_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site_dir)], capture_output=True, text=True, env=mkdocs_env(),
                          cwd=config.parent, timeout=1200)  # a cold build executes every notebook


def placeholder_png(width: int = 8, height: int = 6) -> bytes:
    """A small grey PNG, written without any imaging library."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x99" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """``mkdocs build --strict`` of the real site, once per session."""
    site = tmp_path_factory.mktemp("site")
    proc = run_mkdocs(REPO / "mkdocs.yml", site)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return site


def pages_make_targets() -> list[str]:
    """The ``make`` targets that the GitHub Pages workflow runs before it uploads ``site/``."""
    workflow = yaml.safe_load(PAGES_WORKFLOW.read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", [])]
    return [target for run in runs for target in re.findall(r"\bmake\s+([\w-]+)", run)]


@pytest.fixture(scope="session")
def handout_pdfs(built_site, browser):
    """``make pdf``'s second half on the session's site: ``site/pdf/<deck>.pdf``, printed once."""
    import handout

    return handout.print_all(browser, built_site)


@pytest.fixture(scope="session")
def published_site(built_site, request, tmp_path_factory) -> Path:
    """The site as the Pages workflow publishes it: ``make build``'s output, plus the PDF
    handouts only if the workflow runs ``make pdf`` (a copy: other tests print into built_site)."""
    targets = pages_make_targets()
    unknown = set(targets) - {"setup", "browser", "figures", "build", "pdf"}
    assert not unknown, f"{PAGES_WORKFLOW.name} runs make {sorted(unknown)}: teach published_site what they add"
    assert {"build", "pdf"} & set(targets), f"{PAGES_WORKFLOW.name} builds no site"
    site = tmp_path_factory.mktemp("published") / "site"
    shutil.copytree(built_site, site, ignore=lambda folder, names: ["pdf"] if Path(folder) == built_site else [])
    if "pdf" in targets:
        request.getfixturevalue("handout_pdfs")
        shutil.copytree(built_site / "pdf", site / "pdf")
    return site


@pytest.fixture(scope="session")
def seed_source() -> Path:
    path = SEED_DIR / SEED_NAME
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"seed deck missing: {path} (CI must provide ../shared/fixtures/seed-deck/)")
        pytest.skip(f"seed deck not found at {path} (outside CI the shared fixtures are optional)")
    return path


@pytest.fixture(scope="session")
def seed_build(seed_source, tmp_path_factory):
    """The seed deck copied to a tmp slides/ folder with placeholder images, built and written."""
    root = tmp_path_factory.mktemp("seed")
    slides = root / "slides"
    slides.mkdir()
    deck_path = slides / "seed.md"
    shutil.copy(seed_source, deck_path)
    deck = parse_deck(deck_path.read_text(encoding="utf-8"), "slides/seed.md")
    png = placeholder_png()
    for ref in {m.ref for m in find_media(deck)}:
        target = slides / ref
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
    built = build_deck(deck_path, label="slides/seed.md")
    site = root / "site"
    write_deck(built, site)
    return built, site


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def serve():
    """``serve(folder) -> base URL``: a threaded static server on 127.0.0.1, a free port."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("SSL_EXAMPLES_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} not found and SSL_EXAMPLES_REQUIRE_BROWSER=1 (make browser)")
        pytest.skip(f"{CHROMIUM} not found (install Debian's chromium: make browser)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
