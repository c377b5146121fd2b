"""The shared recipe checks (``ssl_examples/checks.py``): rules by field name, so that every
method's recipe is checked the same way, with the same ``name=value: need`` messages."""

import re
from dataclasses import fields, replace

import pytest

from ssl_examples.checks import VIEW_SIZES, _count, _fraction, _positive, _probability, _weight, check_recipe, rule_for
from ssl_examples.errors import UserError
from ssl_examples.methods import METHODS

# Every recipe field that is the side of a view cut from the image, by method.
VIEW_FIELDS = [("byol", "view_size"), ("simsiam", "view_size"), ("barlow_twins", "view_size"),
               ("vicreg", "view_size"), ("moco_v3", "view_size"), ("swav", "global_size"),
               ("swav", "local_size"), ("dino", "global_size"), ("dino", "local_size")]
# The other sizes of the recipes: not pixels of a view.
OTHER_SIZES = ("image_size", "batch_size", "queue_size")


def test_every_size_field_of_a_recipe_is_known_to_be_a_view_or_not():
    """A new method's ``crop_size`` would escape the view-size rule: it must be sorted here first."""
    sizes = [(name, f.name) for name in METHODS for f in fields(METHODS[name].RECIPE)
             if f.name.endswith("_size") and f.name not in OTHER_SIZES]
    assert sorted(sizes) == sorted(VIEW_FIELDS)
    assert all(field in VIEW_SIZES for _, field in VIEW_FIELDS)


@pytest.mark.parametrize("name, field", VIEW_FIELDS, ids=lambda x: x)
def test_a_view_larger_than_the_image_is_refused(name, field):
    module = METHODS[name]
    recipe = module.RECIPE
    check_recipe(replace(recipe, **{field: recipe.image_size}), module)  # the whole image is a view
    too_large = recipe.image_size + 4  # a multiple of the ViT's patches, so only the size is wrong
    message = f"{field.replace('_', '-')}={too_large}: must not exceed the image size ({recipe.image_size} px)"
    with pytest.raises(UserError, match=re.escape(message)):
        check_recipe(replace(recipe, **{field: too_large}), module)
    # the rule reads the recipe's image size, not a fixed 32
    check_recipe(replace(recipe, image_size=2 * too_large, **{field: too_large}), module)


@pytest.mark.parametrize("name, field", [(n, f) for n, f in VIEW_FIELDS if f != "local_size"], ids=lambda x: x)
def test_a_view_size_of_0_means_the_image_size(name, field):
    check_recipe(replace(METHODS[name].RECIPE, **{field: 0}), METHODS[name])


@pytest.mark.parametrize("name", ["swav", "dino"])
def test_multi_crop_may_have_no_local_crops_but_never_empty_ones(name):
    module = METHODS[name]
    check_recipe(replace(module.RECIPE, num_local=0), module)
    with pytest.raises(UserError, match=re.escape("local-size=0: must be a whole number of at least 1")):
        check_recipe(replace(module.RECIPE, local_size=0), module)


@pytest.mark.parametrize("field, value, rule", [
    ("tau_base", 0.996, _probability),  # BYOL's moving-average rate
    ("momentum_base", 0.996, _probability),
    ("center_momentum", 0.9, _probability),
    ("temperature", 0.1, _positive),
    ("student_temp", 0.1, _positive),  # DINO's temperatures
    ("teacher_temp", 0.07, _positive),
    ("warmup_teacher_temp", 0.04, _positive),
    ("epsilon", 0.05, _positive),
    ("lambd", 5e-3, _weight),  # Barlow Twins' off-diagonal weight
    ("sim_coeff", 25.0, _weight),
    ("local_min_scale", 0.05, _fraction),
    ("min_scale", 0.08, _fraction),
    ("local_size", 16, _count),
    ("proj_dim", 256, _count),
])
def test_each_field_of_the_newer_methods_gets_the_rule_its_name_promises(field, value, rule):
    assert rule_for(field, value) is rule


# Every low/high pair of the recipes (x_min_y beside x_max_y), by method.
RANGES = [("swav", "local_min_scale"), ("dino", "local_min_scale"), ("ijepa", "target_min_scale"),
          ("ijepa", "target_min_aspect"), ("ijepa", "context_min_scale")]


def test_every_range_of_a_recipe_is_listed():
    found = [(name, f.name) for name in METHODS for f in fields(METHODS[name].RECIPE)
             if "min" in f.name.split("_") and hasattr(METHODS[name].RECIPE, f.name.replace("min", "max", 1))]
    assert sorted(found) == sorted(RANGES)


@pytest.mark.parametrize("name, low", RANGES, ids=lambda x: x)
def test_a_range_whose_low_end_passes_its_high_end_is_refused(name, low):
    module = METHODS[name]
    high = low.replace("min", "max", 1)
    bottom = getattr(module.RECIPE, low)
    check_recipe(replace(module.RECIPE, **{high: bottom}), module)  # an empty-width range is allowed
    message = f"{low.replace('_', '-')}={bottom}: must not exceed {high.replace('_', '-')} ({bottom / 2})"
    with pytest.raises(UserError, match=re.escape(message)):
        check_recipe(replace(module.RECIPE, **{high: bottom / 2}), module)


def test_set_parses_each_kind_of_field_and_names_its_owner_when_it_cannot():
    """``--set`` for methods and applications goes through one parser: a bool from 1/true/yes,
    a tuple from commas, the field's own type otherwise; unknown fields and bad values end in
    one line that names what was being set."""
    from ssl_examples.applications.robustness import DEFAULTS
    from ssl_examples.checks import parse_settings

    byol = METHODS["byol"].RECIPE
    assert parse_settings(byol, ["predictor=no", "tau_base=0.9", "epochs=2"], "this method's recipe") == \
        {"predictor": False, "tau_base": 0.9, "epochs": 2}
    assert parse_settings(byol, ["predictor=True"], "x") == {"predictor": True}
    assert parse_settings(DEFAULTS, ["severities=1,3"], "this application") == {"severities": (1, 3)}
    with pytest.raises(UserError, match=r"^--set lr: this application has no setting 'lr'"):
        parse_settings(byol, ["lr"], "this application")
    with pytest.raises(UserError, match=r"^--set epochs=two: 'two' is not a valid int$"):
        parse_settings(byol, ["epochs=two"], "this method's recipe")
