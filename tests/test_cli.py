"""Every mistake a user can make on the command line ends in one line and exit status 2."""

import subprocess
import sys

import pytest

from ssl_examples.__main__ import main
from tests.test_data import write_folder


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(code, err, fragment):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


@pytest.mark.parametrize("argv, fragment", [
    (["pretrain", "jigsawz"], "unknown method 'jigsawz'"),
    (["pretrain", "rotation", "--data", "mnist"], "unknown dataset 'mnist'"),
    (["pretrain", "rotation", "--epochs", "many"], "invalid int value: 'many'"),
    (["pretrain", "rotation", "--data", "cifar10", "--data-root", "/nonexistent/cifar"], "/nonexistent/cifar does not exist"),
    (["pretrain", "rotation", "--data", "folder"], "needs --data-root"),
    (["pretrain", "rotation", "--device", "cuda:banana"], "unknown device"),
    (["evaluate", "/nonexistent/checkpoint.pt"], "does not exist"),
    (["figures", "nope.png"], "unknown figure 'nope.png'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments(argv, fragment, capsys):
    assert_one_line_error(*run(argv, capsys), fragment)


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"\x80\x02garbage")
    assert_one_line_error(*run(["evaluate", str(bad)], capsys), "is not a valid checkpoint")


def test_corrupt_image_in_a_folder_dataset(tmp_path, capsys):
    write_folder(tmp_path / "data", corrupt=True)
    code, err = run(["pretrain", "rotation", "--data", "folder", "--data-root", str(tmp_path / "data"),
                     "--image-size", "16", "--batch-size", "5", "--epochs", "1", "--workers", "0",
                     "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "9.jpg: not a readable image")


def test_an_existing_run_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_bytes(b"precious")
    code, err = run(["pretrain", "rotation", "--out", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "pass --resume")
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"precious"


def test_the_real_process_exits_non_zero_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "ssl_examples", "pretrain", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: unknown method 'nope'; choose one of " +
                                                ", ".join(__import__("ssl_examples.methods").methods.METHODS)]
