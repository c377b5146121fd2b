"""Every figure of the decks and pages, by file name, made by our own code.

``python -m ssl_examples figures`` writes them all into ``docs/figures/`` (not committed:
the site build runs this command first, and a missing figure fails the strict build).
Each figure is a function ``f(path)``; add yours to ``FIGURES``.
"""

from pathlib import Path

from ..errors import UserError
from .collapse import collapse_figure
from .instances import exemplar_figure, simclr_views_figure
from .lecture import LECTURE_FIGURES
from .reconstruction import bownet_figure, colorization_figure, context_encoder_figure
from .structure import context_prediction_figure, jigsaw_figure
from .time import audio_visual_figure, order_prediction_figure, shuffle_and_learn_figure, tracking_animation
from .transformation import rotation_figure


def world_samples(path: Path) -> None:
    from ..data.world import sample_grid

    sample_grid(path, size=64, rows=4, cols=8)


FIGURES = {
    "rotation.png": rotation_figure,
    "context-prediction.png": context_prediction_figure,
    "jigsaw.png": jigsaw_figure,
    "context-encoder.png": context_encoder_figure,
    "colorization.png": colorization_figure,
    "bownet.png": bownet_figure,
    "world-samples.png": world_samples,
    "simclr-views.png": simclr_views_figure,
    "exemplar-crops.png": exemplar_figure,
    "tracking-colorization.gif": tracking_animation,
    "shuffle-and-learn.png": shuffle_and_learn_figure,
    "order-prediction.png": order_prediction_figure,
    "audio-visual.png": audio_visual_figure,
    "collapse.png": collapse_figure,
    **LECTURE_FIGURES,
}


def make_figures(out: Path, names: list[str] | None = None) -> None:
    unknown = sorted(set(names or []) - set(FIGURES))
    if unknown:
        raise UserError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    for name in names or FIGURES:
        FIGURES[name](Path(out) / name)
        print(f"wrote {Path(out) / name}")
