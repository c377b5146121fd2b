"""Each real-dataset loader reads a tiny file in that dataset's own on-disk format."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_examples.data import TensorImages, load_images, make_loader, resize_uint8
from ssl_examples.errors import UserError


@pytest.fixture
def skip_md5(monkeypatch):
    """torchvision checks the real files' MD5 sums; our tiny files keep the format, not the sums."""
    from torchvision.datasets import cifar, stl10

    for module in (cifar, stl10):
        monkeypatch.setattr(module, "check_integrity", lambda path, md5=None: True)


def write_cifar10(root, n=6):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        data[:, 0] = k  # first red pixel tells which file an image came from
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": [(k + i) % 10 for i in range(n)]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)


def test_cifar10_loader_reads_the_python_pickle_format(tmp_path, skip_md5):
    write_cifar10(tmp_path)
    data = load_images("cifar10", image_size=32, root=tmp_path)
    assert isinstance(data.train, TensorImages) and len(data.test) == 6
    # 10 % of the 30 training images (one of each class with two or more) choose, the rest train.
    counts = torch.bincount(torch.tensor([(k + i) % 10 for k in range(5) for i in range(6)]), minlength=10)
    assert len(data.train) + len(data.val) == 30 and data.pretrain is data.train
    assert sorted(data.val.labels.tolist()) == [c for c in range(10) if counts[c] >= 2]
    assert data.train.images.shape[1:] == (3, 32, 32) and data.num_classes == 10
    assert data.test.images[:, 0, 0, 0].tolist() == [5] * 6  # the test batch, channel-first
    both = torch.cat([data.train.images, data.val.images]).flatten(1)
    assert len({tuple(row.tolist()) for row in both}) == 30  # disjoint: every image once


def test_stl10_loader_reads_the_binary_format_and_pretrains_on_unlabeled(tmp_path, skip_md5):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 3), ("unlabeled", 5)):
        rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tofile(folder / f"{split}_X.bin")
        if split != "unlabeled":
            np.arange(1, n + 1, dtype=np.uint8).tofile(folder / f"{split}_y.bin")  # 1-based on disk
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)))
    data = load_images("stl10", image_size=48, root=tmp_path)
    # One image a class: none can be spared for validation, all four train (and pre-train).
    assert len(data.pretrain) == 9 and len(data.train) == 4 and len(data.val) == 0 and len(data.test) == 3
    assert data.train.images.shape == (4, 3, 48, 48)
    assert data.train.labels.tolist() == [0, 1, 2, 3]


def write_folder(root, corrupt=False):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("n01", "n02"):
            (root / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.jpg")
    if corrupt:
        (root / "train" / "n02" / "9.jpg").write_bytes(b"not a jpeg at all")


def test_image_folder_loader_decodes_and_resizes(tmp_path):
    write_folder(tmp_path)
    data = load_images("folder", image_size=24, root=tmp_path)
    batch = next(iter(make_loader(data.train, 4, shuffle=False)))
    assert batch["image"].shape == (4, 3, 24, 24) and batch["image"].dtype == torch.uint8
    assert batch["label"].tolist() == [0, 0, 1, 1] and data.num_classes == 2
    assert batch["index"].tolist() == [0, 1, 2, 3]  # re-indexed: memory banks index by it
    # train/ gives 2 of 3 images a class to train and 1 to the validation split; val/ tests.
    assert len(data.val) == 2 and sorted(data.val[i]["label"] for i in range(2)) == [0, 1] and len(data.test) == 6


def test_corrupt_image_is_a_user_error_naming_the_file(tmp_path):
    write_folder(tmp_path, corrupt=True)
    data = load_images("folder", image_size=24, root=tmp_path)
    with pytest.raises(UserError, match=r"9\.jpg: not a readable image"):
        for split in (data.train, data.val):  # wherever the validation split put it
            list(make_loader(split, 7, shuffle=False))


@pytest.mark.parametrize("name", ["cifar10", "stl10", "folder"])
def test_missing_data_folder_is_a_user_error(tmp_path, name):
    with pytest.raises(UserError, match="does not exist"):
        load_images(name, root=tmp_path / "nowhere")


def test_unknown_dataset_is_a_user_error():
    with pytest.raises(UserError, match="unknown dataset 'imagenet'"):
        load_images("imagenet")


def test_tensor_images_fetch_whole_batches_in_order():
    data = TensorImages(torch.arange(8, dtype=torch.uint8).view(8, 1, 1, 1).expand(8, 3, 2, 2).contiguous(),
                        torch.arange(8))
    batches = list(make_loader(data, 4, shuffle=True, seed=5))
    again = list(make_loader(data, 4, shuffle=True, seed=5))
    seen = torch.cat([b["index"] for b in batches])
    assert sorted(seen.tolist()) == list(range(8))
    assert all(torch.equal(a["index"], b["index"]) for a, b in zip(batches, again))
    assert torch.equal(batches[0]["image"][:, 0, 0, 0].long(), batches[0]["index"])


def test_resize_keeps_uint8_and_constant_images():
    x = torch.full((2, 3, 96, 96), 77, dtype=torch.uint8)
    y = resize_uint8(x, 32)
    assert y.shape == (2, 3, 32, 32) and y.dtype == torch.uint8 and (y == 77).all()


def test_world_splits_are_disjoint_and_the_test_split_is_not_the_training_set():
    from ssl_examples.data import load_world

    data = load_world(16, num_images=200, num_labelled=300, num_val=100, num_test=100)
    rows = {name: {bytes(img.flatten().tolist()) for img in getattr(data, name).images}
            for name in ("train", "val", "test")}
    assert len(rows["train"]) == 300 and len(rows["val"]) == 100 and len(rows["test"]) == 100
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    # Pre-training sees a prefix of the labelled training images, never val or test.
    assert {bytes(img.flatten().tolist()) for img in data.pretrain.images} <= rows["train"]
