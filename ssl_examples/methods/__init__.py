"""Every pretext method of the lecture, one module each, listed here explicitly.

A method module reads top to bottom: a docstring (the idea, the citation, the loss in the
notation of its page), the function that makes the pretext targets, the head, the model
(an ``nn.Module`` holding ``backbone`` whose ``forward(batch)`` returns ``(loss, metrics)``),
``RECIPE`` (defaults that train in about a minute on a laptop CPU with the embedded data),
and ``build(recipe, data)``. Data, optimiser, loop and evaluation are shared.

To add a method: write ``methods/<name>.py`` in that shape, import it below and add it
to ``METHODS``; ``python -m ssl_examples list`` and the benchmark then pick it up.
"""

from . import exemplar, moco, npid, rotation, simclr
from . import audio_visual, order_prediction, shuffle_and_learn, tracking_colorization
from . import bownet, colorization, context_encoder, context_prediction, jigsaw

METHODS = {
    "rotation": rotation,
    "context_prediction": context_prediction,
    "jigsaw": jigsaw,
    "context_encoder": context_encoder,
    "colorization": colorization,
    "bownet": bownet,
    "exemplar": exemplar,
    "npid": npid,
    "simclr": simclr,
    "moco": moco,
    "tracking_colorization": tracking_colorization,
    "shuffle_and_learn": shuffle_and_learn,
    "order_prediction": order_prediction,
    "audio_visual": audio_visual,
}
