"""Datasets for pre-training and evaluation.

Every dataset yields dictionaries ``{"image": uint8 (3, H, W), "label": int, "index": int}``,
so methods can use the image, and instance-discrimination methods the index, without
caring where the data came from. Methods receive whole batches and augment them on the
device themselves (``ssl_examples.augment``).

* ``world`` (default): the embedded procedural world, generated from a seed, no download.
* ``cifar10``, ``cifar100``, ``stl10``: torchvision's loaders, kept in memory as tensors;
  they are downloaded only when ``download=True`` (``--download`` on the command line).
* ``folder``: an ImageNet-style folder (e.g. Imagenette) with ``train/<class>/*.jpg`` and
  ``val/<class>/*.jpg``, decoded and resized by DataLoader workers.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..errors import UserError

DATASETS = ("world", "cifar10", "cifar100", "stl10", "folder")


class TensorImages(Dataset):
    """Images held in memory as one uint8 tensor ``(N, 3, H, W)`` with int64 labels.

    ``__getitems__`` lets a DataLoader fetch a whole batch with one indexing operation
    instead of collating N small tensors: in-memory data then costs next to nothing.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        assert images.dtype == torch.uint8 and images.ndim == 4 and len(images) == len(labels)
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": self.labels[i], "index": torch.tensor(i)}

    def __getitems__(self, indices):
        idx = torch.as_tensor(indices)
        return {"image": self.images[idx], "label": self.labels[idx], "index": idx}

    def subset(self, indices: torch.Tensor) -> "TensorImages":
        return TensorImages(self.images[indices], self.labels[indices])


@dataclass
class ImageData:
    """What pre-training and evaluation need from a dataset.

    Three labelled splits, used as the evaluation protocol demands: the protocols fit on
    ``train``, every choice (a probe's regularisation, the layer to report, a recipe's
    hyper-parameters) is made on ``val``, and ``test`` is only reported.
    """

    name: str
    pretrain: Dataset  # images used without labels (may include an unlabeled split)
    train: Dataset  # labelled images for the evaluation protocols
    test: Dataset  # held-out labelled images, only reported
    num_classes: int
    image_size: int
    val: Dataset | None = None  # held-out labelled images for choices; disjoint from train and test


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0,
                drop_last: bool = False, workers: int = 0, sampler=None) -> DataLoader:
    """A DataLoader whose order depends only on ``seed`` (so a resumed run sees the same batches)."""
    generator = torch.Generator().manual_seed(seed)
    batched = isinstance(dataset, TensorImages)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        drop_last=drop_last, generator=generator, num_workers=0 if batched else workers,
        collate_fn=_already_collated if batched else None, persistent_workers=False,
    )


def _already_collated(batch):
    return batch


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize a uint8 image tensor with antialiasing, in chunks to bound memory."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = [F.interpolate(images[i:i + chunk].float(), size=(size, size), mode="bilinear",
                         antialias=True, align_corners=False).round().clamp(0, 255).to(torch.uint8)
           for i in range(0, len(images), chunk)]
    return torch.cat(out)


# The embedded world's evaluation splits: the same for every method, whatever it pre-trains on,
# so every row of the benchmark is probed on the same labelled images.
WORLD_EVAL = {"train": 3000, "val": 1000, "test": 2000}


def load_world(image_size: int = 32, num_images: int = 3000, num_labelled: int | None = None,
               num_val: int | None = None, num_test: int | None = None) -> ImageData:
    """Pre-train on the first ``num_images`` images of the world's train stream; probe on its
    first ``num_labelled``; choose on ``val`` and report on ``test`` (streams of their own).
    The three evaluation sizes default to ``WORLD_EVAL``."""
    from .world import CLASSES, world_split

    num_labelled = num_labelled or WORLD_EVAL["train"]
    num_val, num_test = num_val or WORLD_EVAL["val"], num_test or WORLD_EVAL["test"]

    x, _, y = world_split("train", max(num_images, num_labelled), image_size)
    xv, _, yv = world_split("val", num_val, image_size)
    xt, _, yt = world_split("test", num_test, image_size)
    return ImageData("world", TensorImages(x[:num_images], y[:num_images]),
                     TensorImages(x[:num_labelled], y[:num_labelled]), TensorImages(xt, yt), len(CLASSES),
                     image_size, val=TensorImages(xv, yv))


class IndexedSubset(Dataset):
    """Some items of a dataset, re-indexed 0..len-1 (instance methods index memory banks by it)."""

    def __init__(self, dataset: Dataset, indices: torch.Tensor):
        self.dataset, self.indices = dataset, indices.tolist()

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return {**self.dataset[self.indices[i]], "index": i}


def val_indices(labels: torch.Tensor, fraction: float = 0.1, seed: int = 0) -> torch.Tensor:
    """A boolean mask choosing a fixed, class-stratified ``fraction`` of the items: at least one
    of every class that has two or more, never a class's last one."""
    g = torch.Generator().manual_seed(seed)
    is_val = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        is_val[idx[torch.randperm(len(idx), generator=g)[:k]]] = True
    return is_val


def split_off_val(train: "TensorImages", fraction: float = 0.1, seed: int = 0) -> tuple["TensorImages", "TensorImages"]:
    """A fixed, class-stratified ``fraction`` of a labelled set as validation; (rest, val)."""
    is_val = val_indices(train.labels, fraction, seed)
    return train.subset(~is_val), train.subset(is_val)


def split_off_val_folder(dataset: Dataset, labels: list[int]) -> tuple[Dataset, Dataset]:
    """The same split for a folder dataset read lazily: (rest, val) as re-indexed subsets."""
    is_val = val_indices(torch.as_tensor(labels))
    return (IndexedSubset(dataset, (~is_val).nonzero().squeeze(1)),
            IndexedSubset(dataset, is_val.nonzero().squeeze(1)))


def _download_failed(name: str, root: Path, error: Exception) -> UserError:
    """A failed download, in one line: what failed, and how to provide the data by hand."""
    reason = str(getattr(error, "reason", "") or error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(f"could not download {name} ({reason}); download it by hand (see docs/data.md) "
                     f"and unpack it into {root}, then run without --download")


def _require_folder(root: Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist ({what}); "
                        f"pass --data-root, or --download to fetch the dataset")
    return root


def load_cifar(name: str, root: Path, image_size: int, download: bool) -> ImageData:
    import torchvision

    cls = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}[name]
    root = Path(root).expanduser()
    if download:
        root.mkdir(parents=True, exist_ok=True)
    else:
        _require_folder(root, name)
    try:
        splits = [cls(str(root), train=t, download=download) for t in (True, False)]
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise UserError(f"{name} in {root}: {e}") from None
    except OSError as e:  # no network, refused, timed out (URLError is an OSError)
        raise _download_failed(name, root, e) from None
    tensors = []
    for ds in splits:
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        tensors.append(TensorImages(resize_uint8(images, image_size), torch.tensor(ds.targets)))
    train, val = split_off_val(tensors[0])  # 10 % of the training images choose; they are not pre-trained on
    return ImageData(name, train, train, tensors[1], len(splits[0].classes), image_size, val=val)


def load_stl10(root: Path, image_size: int, download: bool) -> ImageData:
    """STL-10: pre-train on the 100k unlabeled images plus train, evaluate on train/test."""
    import torchvision

    root = Path(root).expanduser()
    if download:
        root.mkdir(parents=True, exist_ok=True)
    else:
        _require_folder(root, "stl10")
    try:
        parts = {s: torchvision.datasets.STL10(str(root), split=s, download=download)
                 for s in ("unlabeled", "train", "test")}
    except RuntimeError as e:
        raise UserError(f"stl10 in {root}: {e}") from None
    except OSError as e:
        raise _download_failed("stl10", root, e) from None
    data = {s: TensorImages(resize_uint8(torch.from_numpy(d.data), image_size),
                            torch.from_numpy(d.labels).long()) for s, d in parts.items()}
    train, val = split_off_val(data["train"])
    pretrain = TensorImages(torch.cat([data["unlabeled"].images, train.images]),
                            torch.cat([data["unlabeled"].labels, train.labels]))
    return ImageData("stl10", pretrain, train, data["test"], 10, image_size, val=val)


class ImageFolderDict(Dataset):
    """An ImageNet-style folder read by torchvision, yielding our dictionaries.

    A file that cannot be decoded stops the run with its path instead of a deep traceback.
    """

    def __init__(self, root: Path, image_size: int):
        import torchvision
        from torchvision.transforms import v2

        try:
            self.folder = torchvision.datasets.ImageFolder(str(root))
        except (FileNotFoundError, RuntimeError) as e:
            raise UserError(f"{root}: {e}") from None
        self.transform = v2.Compose([v2.PILToTensor(), v2.Resize(image_size, antialias=True),
                                     v2.CenterCrop(image_size)])

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, i):
        from PIL import UnidentifiedImageError

        path, label = self.folder.samples[i]
        try:
            image = self.folder.loader(path)
        except (UnidentifiedImageError, OSError) as e:
            raise UserError(f"{path}: not a readable image ({e.__class__.__name__})") from None
        return {"image": self.transform(image), "label": label, "index": i}


def load_folder(root: Path, image_size: int) -> ImageData:
    root = _require_folder(root, "an ImageNet-style folder with train/ and val/")
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise UserError(f"{root / split} does not exist: a folder dataset needs train/<class>/ "
                            f"and val/<class>/ subfolders")
    full, test = ImageFolderDict(root / "train", image_size), ImageFolderDict(root / "val", image_size)
    # The folder's val/ is the test split (reported only); 10 % of train/ is the validation split.
    train, val = split_off_val_folder(full, full.folder.targets)
    return ImageData("folder", train, train, test, len(full.folder.classes), image_size, val=val)


def load_images(name: str = "world", image_size: int = 32, root: Path | None = None,
                download: bool = False, num_images: int = 3000) -> ImageData:
    """Load a dataset by name (one of ``DATASETS``)."""
    if name == "world":
        return load_world(image_size, num_images)
    from ..cache import cache_dir

    default_root = cache_dir(name)
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, root or default_root, image_size, download)
    if name == "stl10":
        return load_stl10(root or default_root, image_size, download)
    if name == "folder":
        if root is None:
            raise UserError("the folder dataset needs --data-root PATH")
        return load_folder(root, image_size)
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def load_for_method(method, recipe, name: str = "world", root: Path | None = None,
                    download: bool = False) -> ImageData:
    """The data a method module trains on with ``recipe``: images, or clips if the module
    declares ``DATA = "video"``.

    A video method's ``pretrain`` set holds ``recipe.clips`` clips of ``recipe.frames`` frames;
    its ``train``/``val``/``test`` sets are still the labelled images every method is evaluated on.
    """
    if getattr(method, "DATA", "images") == "video":
        from .video import load_video

        return load_video(name, recipe.image_size, recipe.clips, recipe.frames, root)
    return load_images(name, recipe.image_size, root, download, recipe.num_images)
