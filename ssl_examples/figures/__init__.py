"""Every figure of the decks and pages, by file name, made by our own code.

``python -m ssl_examples figures`` writes them all into ``docs/figures/`` (not committed:
the site build runs this command first, and a missing figure fails the strict build).
Each figure is a function ``f(path)``; add yours to ``FIGURES``.

The lecture deck's figures (``lecture-*``) are drawn for a projector (``common.deck_style``):
every label is at least 14 px high at the size the deck shows them. A method's pretext task
comes as a pair, ``lecture-<method>-q.png`` (the input: "what is the answer?") and
``lecture-<method>-a.png`` (its answer), made by one function called with ``part="q"`` or ``"a"``.
"""

from functools import partial
from pathlib import Path

import torch

from ..errors import UserError
from .application_results import APPLICATION_FIGURES
from .applications import (cycle_figure, domain_generalisation_figure, few_shot_figure, ood_figure, robustness_figure,
                           ss_gan_figure, two_heads_figure)
from .beyond import (barlow_twins_figure, byol_figure, collapse_figure, dino_figure, ijepa_figure, mae_figure,
                     moco_v3_figure, simsiam_figure, swav_figure, vicreg_figure)
from .evaluation import few_label_figure, gain_figure, layers_figure
from .instances import (exemplar_figure, exemplar_qa, info_nce_figure, moco_qa, npid_qa, simclr_qa,
                        simclr_views_figure)
from .lecture import (fill_in_figure, multimodal_figure, pipeline_figure, reconstruction_figure, structure_figure,
                      texture_shape_figure, time_figure, views_figure)
from .reconstruction import (bownet_figure, bownet_qa, colorization_figure, colorization_qa, context_encoder_figure,
                             context_encoder_qa)
from .structure import context_prediction_figure, context_prediction_qa, jigsaw_figure, jigsaw_qa
from .time import (audio_visual_figure, audio_visual_qa, order_prediction_figure, order_prediction_qa,
                   shuffle_and_learn_figure, shuffle_and_learn_qa, tracking_animation, tracking_colorization_qa)
from .results import RESULT_FIGURES
from .transformation import rotation_figure, rotation_qa, rotation_running_example
from .vit import FIGURES as VIT_FIGURES
from .collapse import collapse_figure as byol_collapse_figure


def world_samples(path: Path) -> None:
    from ..data.world import sample_grid

    sample_grid(path, size=64, rows=4, cols=8)


# slide name of a method -> the function drawing its question and answer
QUESTIONS = {
    "context-prediction": context_prediction_qa,
    "jigsaw": jigsaw_qa,
    "rotation": rotation_qa,
    "context-encoder": context_encoder_qa,
    "colorization": colorization_qa,
    "bownet": bownet_qa,
    "exemplar": exemplar_qa,
    "npid": npid_qa,
    "simclr": simclr_qa,
    "moco": moco_qa,
    "tracking-colorization": tracking_colorization_qa,
    "shuffle-and-learn": shuffle_and_learn_qa,
    "order-prediction": order_prediction_qa,
    "audio-visual": audio_visual_qa,
}

FIGURES = {
    # method pages
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
    **VIT_FIGURES,
    # the lecture deck and the lecture pages
    "lecture-texture-shape.png": texture_shape_figure,
    "lecture-fill-in.png": fill_in_figure,
    "lecture-rotation.png": rotation_running_example,
    "lecture-pipeline.png": pipeline_figure,
    "lecture-structure.png": structure_figure,
    "lecture-reconstruction.png": reconstruction_figure,
    "lecture-views.png": views_figure,
    "lecture-time.png": time_figure,
    "lecture-multimodal.png": multimodal_figure,
    "lecture-info-nce.png": info_nce_figure,
    **{f"lecture-{name}-{part}.png": partial(draw, part=part) for name, draw in QUESTIONS.items() for part in "qa"},
    # the benchmark (docs/results/bench.json)
    "lecture-bench.png": gain_figure,
    "lecture-layers.png": layers_figure,
    "lecture-few-labels.png": few_label_figure,
    # applications: a self-supervised task beside the main one
    "lecture-app-cycle.png": cycle_figure,
    "lecture-app-two-heads.png": two_heads_figure,
    "lecture-app-few-shot.png": few_shot_figure,
    "lecture-app-robustness.png": robustness_figure,
    "lecture-app-ood.png": ood_figure,
    "lecture-app-domains.png": domain_generalisation_figure,
    "lecture-app-ss-gan.png": ss_gan_figure,
    # beyond the 2020 lecture (slide names as the method registry names the pages)
    "lecture-collapse.png": collapse_figure,
    "lecture-byol.png": byol_figure,
    "lecture-simsiam.png": simsiam_figure,
    "lecture-barlow-twins.png": barlow_twins_figure,
    "lecture-vicreg.png": vicreg_figure,
    "lecture-swav.png": swav_figure,
    "lecture-dino.png": dino_figure,
    "lecture-moco-v3.png": moco_v3_figure,
    "lecture-mae.png": mae_figure,
    "lecture-ijepa.png": ijepa_figure,
    **RESULT_FIGURES,
    # the applications' experiments and their stored results (docs/results/applications/)
    **APPLICATION_FIGURES,
    "collapse.png": byol_collapse_figure,
}


def make_figures(out: Path, names: list[str] | None = None) -> None:
    unknown = sorted(set(names or []) - set(FIGURES))
    if unknown:
        raise UserError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    # One thread: the figures that train a small network (the collapse runs, the applications)
    # are as quick on one, and on a 2-core machine under load two OpenMP threads can spin-wait on
    # each other for minutes.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in names or FIGURES:
            FIGURES[name](Path(out) / name)
            print(f"wrote {Path(out) / name}")
    finally:
        torch.set_num_threads(threads)
