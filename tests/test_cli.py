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
    # Values that used to crash or train nothing: every recipe value is checked where it enters.
    (["pretrain", "rotation", "--batch-size", "0"], "batch-size=0: must be a whole number of at least 1"),
    (["pretrain", "rotation", "--lr", "nan"], "lr=nan: must be a finite number"),
    (["pretrain", "rotation", "--lr", "-1"], "lr=-1.0: must be greater than 0"),
    (["pretrain", "rotation", "--backbone", "vgg99"], "backbone='vgg99': unknown backbone"),
    (["pretrain", "rotation", "--epochs", "0"], "epochs=0: must be a whole number of at least 1"),
    (["pretrain", "rotation", "--epochs", "-1"], "epochs=-1: must be a whole number of at least 1"),
    (["pretrain", "rotation", "--num-images", "0"], "num-images=0"),
    (["pretrain", "rotation", "--image-size", "4"], "image-size=4: must be between 8 and 1024 pixels"),
    (["pretrain", "rotation", "--weight-decay", "-0.1"], "weight-decay=-0.1: must be 0 or more"),
    (["pretrain", "rotation", "--warmup-epochs", "99"], "warmup-epochs=99.0: must not exceed"),
    (["pretrain", "rotation", "--workers", "-2"], "workers=-2: must be 0 or more"),
    (["pretrain", "rotation", "--temperature", "0.1"], "rotation has no temperature"),
    (["pretrain", "simclr", "--temperature", "-1"], "temperature=-1.0: must be greater than 0"),
    (["pretrain", "simclr", "--temperature", "inf"], "temperature=inf: must be a finite number"),
    (["pretrain", "simclr", "--set", "min_scale=2"], "min-scale=2.0: must be a fraction in (0, 1]"),
    (["pretrain", "moco", "--set", "momentum=1.5"], "momentum=1.5: must be a probability"),
    (["pretrain", "moco", "--set", "queue_size=0"], "queue-size=0: must be a whole number of at least 1"),
    (["pretrain", "byol", "--set", "tau_base=1.5"], "tau-base=1.5: must be a probability between 0 and 1"),
    (["pretrain", "dino", "--set", "teacher_temp=0"], "teacher-temp=0.0: must be greater than 0"),
    (["pretrain", "moco_v3", "--set", "view_size=64"], "view-size=64: must not exceed the image size (32 px)"),
    (["pretrain", "simsiam", "--image-size", "16", "--set", "view_size=24"],
     "view-size=24: must not exceed the image size (16 px)"),
    # the method's own check(recipe) runs on the command line too
    (["pretrain", "swav", "--set", "local_min_scale=0.5"], "local-min-scale=0.5: must not exceed local-max-scale (0.3)"),
    (["pretrain", "rotation", "--layers", "block9"], "--layers: unknown layer 'block9'"),
    (["bench", "--seeds"], "--seeds needs at least one seed"),
    (["bench", "--tier", "tpu"], "unknown tier 'tpu'"),
    (["bench", "--finetune", "5"], "--finetune 5"),
    (["bench", "--methods", "nope"], "unknown method 'nope'"),
])
def test_bad_arguments(argv, fragment, capsys):
    assert_one_line_error(*run(argv, capsys), fragment)


def test_a_failed_download_is_one_line_that_says_how_to_provide_the_data(tmp_path, capsys, monkeypatch):
    """No network: torchvision's download raises URLError deep inside; the user reads one line."""
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code, err = run(["pretrain", "rotation", "--data", "cifar10", "--download", "--data-root", str(tmp_path / "c"),
                     "--out", str(tmp_path / "run")], capsys)
    assert_one_line_error(code, err, "could not download cifar10 (")
    assert "by hand" in err and str(tmp_path / "c") in err and "Traceback" not in err


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


@pytest.mark.parametrize("command, hint", [("pretrain", "--resume"), ("bench", "--resume"), ("speed", None)])
def test_an_interrupt_says_how_to_go_on(command, hint, capsys, monkeypatch):
    """Ctrl-C ends with status 130 and one line; pretrain keeps a checkpoint to resume, bench
    every finished row (--resume runs the rest), other commands nothing."""
    import ssl_examples.__main__ as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, f"cmd_{command}", interrupted)
    code, err = run({"pretrain": [command, "rotation"], "bench": [command, "--methods", "rotation"],
                     "speed": [command]}[command], capsys)
    assert code == 130 and len(err.strip().splitlines()) == 1
    assert err.strip() == "interrupted" if hint is None else hint in err, err
