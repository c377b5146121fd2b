"""Checks of every recipe and runtime value, made once where the values enter (the CLI, the benchmark).

A value no method can train with (a batch of 0, a NaN learning rate, a negative
temperature, an unknown backbone, an image too small to cut into a method's patches) is a
``UserError``: one line, before any work. The rules go by field name, so a new method's
recipe fields are checked without new code when they follow the names used here; a method
with needs of its own (patches that must fit the image, a minimum below its maximum) defines
a module-level ``check(recipe)``, which runs after these and fails in the same
``name=value: need`` form.
"""

import math
from dataclasses import fields

from .errors import UserError

OPTIMIZERS = ("adamw", "sgd", "lars")


def _fail(name: str, value, need: str):
    raise UserError(f"{name.replace('_', '-')}={value!r}: {need}")


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(name, value, "must be a number")
    if not math.isfinite(value):
        _fail(name, value, "must be a finite number")
    return value


def _probability(name, v):
    if not 0 <= _number(name, v) <= 1:
        _fail(name, v, "must be a probability between 0 and 1")


def _positive(name, v):
    if not _number(name, v) > 0:
        _fail(name, v, "must be greater than 0")


def _non_negative(name, v):
    if not _number(name, v) >= 0:
        _fail(name, v, "must be 0 or more")


def _fraction(name, v):
    if not 0 < _number(name, v) <= 1:
        _fail(name, v, "must be a fraction in (0, 1]")


def _count(name, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        _fail(name, v, "must be a whole number of at least 1")


def _count_or_zero(name, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        _fail(name, v, "must be a whole number, 0 or more")


def _image_size(name, v):
    _count(name, v)
    if not 8 <= v <= 1024:
        _fail(name, v, "must be between 8 and 1024 pixels")


def _weight(name, v):
    _non_negative(name, v)


# Exact field names first, then patterns on the name.
EXACT = {
    "image_size": _image_size,
    "num_images": _count,
    "epochs": _count,
    "batch_size": _count,
    "lr": _positive,
    "weight_decay": _non_negative,
    "warmup_epochs": _non_negative,
    "strength": _non_negative,
    "exact_up_to": _non_negative,
    # 0 means "the image size" for a view, and "none" for the local crops of multi-crop
    "view_size": _count_or_zero,
    "global_size": _count_or_zero,
    "local_size": _count,  # a local crop always has a side of its own
    "num_local": _count_or_zero,
    "tau_base": _probability,  # BYOL's name for the momentum of its moving average
}

# Sides of the views a method cuts from each image (0: the image size). A view is a crop
# resampled to this side: one larger than the image would only blow its pixels up, at a
# higher cost, so check_recipe refuses it.
VIEW_SIZES = ("view_size", "global_size", "local_size")


def rule_for(name: str, value):
    if name in EXACT:
        return EXACT[name]
    if "temperature" in name or name.endswith(("_temp", "_eps", "epsilon")):
        return _positive
    if "momentum" in name or name.endswith(("_p", "_prob", "_ratio")):
        return _probability
    if name.endswith("scale"):
        return _fraction
    # "lambd": Barlow Twins' weight (lambda is a Python keyword)
    if name.endswith(("_weight", "lambda", "lambd", "_coeff")) or name.startswith("weight_"):
        return _weight
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _count  # sizes, counts, dimensions
    if isinstance(value, float):
        return _number
    return None


def parse_settings(config, settings: list[str], owner: str) -> dict:
    """``["name=value", ...]`` (the ``--set`` of the command line) -> the fields of the
    ``config`` dataclass they change, each value cast to the field's type: ``1/true/yes`` for a
    bool, comma-separated values for a tuple. ``owner`` names ``config`` in the errors
    ("this method's recipe", "this application")."""
    known = {f.name: getattr(config, f.name) for f in fields(config)}
    changes = {}
    for item in settings:
        name, _, value = item.partition("=")
        if name not in known or not value:
            raise UserError(f"--set {item}: {owner} has no setting {name!r}; it has {', '.join(known)}")
        current = known[name]
        try:
            if isinstance(current, bool):
                changes[name] = value.lower() in ("1", "true", "yes")
            elif isinstance(current, tuple):
                kind = type(current[0]) if current else str
                changes[name] = tuple(kind(v) for v in value.split(","))
            else:
                changes[name] = type(current)(value)
        except ValueError:
            raise UserError(f"--set {item}: {value!r} is not a valid {type(current).__name__}") from None
    return changes


def check_recipe(recipe, method=None) -> None:
    """Raise ``UserError`` for the first value of ``recipe`` that cannot train."""
    from .nets import BACKBONES

    for f in fields(recipe):
        value = getattr(recipe, f.name)
        if f.name == "backbone":
            if value not in BACKBONES:
                _fail(f.name, value, f"unknown backbone; choose one of {', '.join(BACKBONES)}")
            continue
        if f.name == "optimizer":
            if value not in OPTIMIZERS:
                _fail(f.name, value, f"unknown optimizer; choose one of {', '.join(OPTIMIZERS)}")
            continue
        rule = rule_for(f.name, value)
        if rule is not None:
            rule(f.name, value)
    for f in fields(recipe):  # a range (x_min_y, x_max_y: crop scales, aspect ratios): low <= high
        parts = f.name.split("_")
        if "min" in parts:
            parts[parts.index("min")] = "max"
            high = "_".join(parts)
            low_value, high_value = getattr(recipe, f.name), getattr(recipe, high, None)
            if high_value is not None and low_value > high_value:
                _fail(f.name, low_value, f"must not exceed {high.replace('_', '-')} ({high_value})")
    if recipe.warmup_epochs > recipe.epochs:
        _fail("warmup_epochs", recipe.warmup_epochs, f"must not exceed the {recipe.epochs} epochs")
    for name in VIEW_SIZES:
        size = getattr(recipe, name, 0)
        if size > recipe.image_size:
            _fail(name, size, f"must not exceed the image size ({recipe.image_size} px)")
    if method is not None and hasattr(method, "check"):
        method.check(recipe)


def check_runtime(runtime) -> None:
    if runtime.workers < 0:
        _fail("workers", runtime.workers, "must be 0 or more")
    if runtime.seed < 0:
        _fail("seed", runtime.seed, "must be 0 or more")
