"""Every pretext method of the course, one module each, and the one table that lists them.

A method module reads top to bottom: a docstring (the idea, the citation, the loss in the
notation of its page), the function that makes the pretext targets, the head, the model
(an ``nn.Module`` holding ``backbone`` whose ``forward(batch)`` returns ``(loss, metrics)``),
``RECIPE`` (defaults that train in about a minute on a laptop CPU with the embedded data),
and ``build(recipe, data)``. Data, optimiser, loop and evaluation are shared.

``REGISTRY`` below is the only list of methods. The command line, the benchmark, the site's
navigation (``docs/hooks/methods_nav.py``) and the tests all read it. To add a method: write
``methods/<name>.py`` in that shape, add one line here, and write its page
(``docs/methods/<name with hyphens>.md``), its test file (``tests/test_<name>.py``) and its
slide (``name: <name with hyphens>`` in the lecture deck); tests check that all four exist.

This file imports no torch (the site build reads the table); a method module is imported
the first time ``METHODS[name]`` is used.
"""

from dataclasses import dataclass

from ..lazy import LazyModules

# Families in the order the lecture teaches them: key -> section title in the navigation.
FAMILIES = {
    "structure": "Inferring structure",
    "transformation": "Transformation prediction",
    "reconstruction": "Reconstruction",
    "instances": "Instance discrimination",
    "time": "Exploiting time",
    "multimodal": "Multimodal",
    "no_negatives": "Beyond 2020: without negatives",
    "vit": "Beyond 2020: Vision Transformers",
}


@dataclass(frozen=True)
class Method:
    name: str  # module name and command-line name, e.g. "context_prediction"
    title: str  # how pages, tables and the navigation call it
    family: str  # a key of FAMILIES

    @property
    def slug(self) -> str:
        """The page's and the slide's name: ``context-prediction``."""
        return self.name.replace("_", "-")

    @property
    def page(self) -> str:
        return f"methods/{self.slug}.md"


REGISTRY = (
    Method("context_prediction", "Context prediction", "structure"),
    Method("jigsaw", "Jigsaw puzzles", "structure"),
    Method("rotation", "Rotation", "transformation"),
    Method("context_encoder", "Context encoders", "reconstruction"),
    Method("colorization", "Colorization", "reconstruction"),
    Method("bownet", "BoWNet", "reconstruction"),
    Method("exemplar", "Exemplar networks", "instances"),
    Method("npid", "NPID", "instances"),
    Method("simclr", "SimCLR", "instances"),
    Method("moco", "MoCo", "instances"),
    Method("tracking_colorization", "Tracking by colorization", "time"),
    Method("shuffle_and_learn", "Shuffle and Learn", "time"),
    Method("order_prediction", "Order prediction", "time"),
    Method("audio_visual", "Look, Listen and Learn", "multimodal"),
    Method("byol", "BYOL", "no_negatives"),
    Method("simsiam", "SimSiam", "no_negatives"),
    Method("barlow_twins", "Barlow Twins", "no_negatives"),
    Method("vicreg", "VICReg", "no_negatives"),
    Method("swav", "SwAV", "no_negatives"),
    Method("dino", "DINO", "no_negatives"),
    Method("moco_v3", "MoCo v3", "vit"),
    Method("mae", "MAE", "vit"),
    Method("ijepa", "I-JEPA", "vit"),
)
BY_NAME = {m.name: m for m in REGISTRY}
assert all(m.family in FAMILIES for m in REGISTRY), "every method belongs to a listed family"


METHODS = LazyModules(__name__, BY_NAME)  # METHODS[name] -> the module, imported on first use
