"""The speed command: every contender timed, every ratio printed; bad arguments are one-line errors."""

import json

import speed_tables  # docs/hooks/speed_tables.py (on pytest's pythonpath)
from ssl_examples.__main__ import main


def test_speed_times_every_contender_and_writes_the_ratios(tmp_path, capsys):
    out = tmp_path / "speed.json"
    code = main(["speed", "--device", "cpu", "--backbone", "convnet", "--batch-size", "16", "--image-size", "16",
                 "--num-images", "32", "--steps", "1", "--tables", "step", "end-to-end", "--workers", "0",
                 "--out", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    for title in ("training step, views given (convnet)", "end to end with augmentation (lightly: DataLoader, 0 workers)"):
        rates = results[title]["images_per_s"]
        assert set(rates) == {"SimCLR ours", "SimCLR lightly", "MoCo ours", "MoCo lightly",
                              "MoCo ours, split BN (8 groups)"}
        assert all(r > 0 for r in rates.values())
        assert results[title]["ratios"]["MoCo ours / MoCo lightly"] == rates["MoCo ours"] / rates["MoCo lightly"]
        assert title in printed
    assert "ratio SimCLR ours / SimCLR lightly" in printed
    assert results["settings"]["lightly_workers"] == 0
    assert results["settings"]["command"].startswith("python -m ssl_examples speed --device cpu")

    # the page hook renders every table of the stored JSON, with the command that made it
    (tmp_path / "results").mkdir()
    out.rename(tmp_path / "results" / "speed-test.json")
    page = speed_tables.on_page_markdown("<!-- speed:speed-test -->\n\n<!-- speed:nowhere -->", None,
                                         {"docs_dir": str(tmp_path)}, None)
    assert "| MoCo ours, split BN (8 groups) |" in page and "*ratio MoCo ours / MoCo lightly*" in page
    assert "`python -m ssl_examples speed --device cpu" in page and "<!-- speed:speed-test -->" not in page
    assert 'Not measured yet' in page and "docs/results/nowhere.json" in page


def test_speed_arguments_are_checked(capsys):
    assert main(["speed", "--epochs", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert main(["speed", "--batch-size", "12"]) == 2
    assert "multiple of 8" in capsys.readouterr().err
    assert main(["bench", "--speed"]) == 2  # the speed comparison is its own command now
    assert "unrecognized arguments: --speed" in capsys.readouterr().err
