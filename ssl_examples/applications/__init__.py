"""Self-supervision beside a main task: the lecture's applications, one runnable experiment each.

Every application trains the same small network twice, with and without a self-supervised
head (or loss) next to its main task, over three seeds, and prints its table with the plain
version beside the self-supervised one (mean ± 95 % Student-t interval over seeds, and the
paired gain). ``python -m ssl_examples apply NAME`` runs one; the numbers are stored as JSON
under ``docs/results/applications/`` and rendered on the application's page at build time.

An application module reads top to bottom: a docstring (the idea, the paper, the loss), the
pieces that are specific to it (corruptions, scores, episodes, styles, a GAN), its model,
``DEFAULTS`` (a ``Config`` sized for about two minutes on a laptop CPU), ``run(config, seeds,
device)`` (test numbers, with hyper-parameters read from ``config``) and ``select(config,
seeds, device)`` (the validation runs that chose them). Shared pieces (the rotation head
beside a classifier, training, saving, tables) live in ``common.py`` and ``tables.py``.

``REGISTRY`` below is the only list of applications; the command line, the site's hook and
the tests read it. This file imports no torch (the site build reads it).
"""

from dataclasses import dataclass

from ..lazy import LazyModules


@dataclass(frozen=True)
class Application:
    name: str  # module name and command-line name
    title: str  # how pages, tables and the navigation call it
    summary: str  # one line for ``python -m ssl_examples list``
    headline: tuple[str, str, int]  # the number for slides: (table id, row label, column) vs column 0

    @property
    def page(self) -> str:
        return f"applications/{self.name}.md"

    @property
    def results(self) -> str:
        """The stored results, relative to the repository root."""
        return f"docs/results/applications/{self.name}.json"

    @property
    def figure(self) -> str:
        return f"application-{self.name}.png"


REGISTRY = (
    Application("robustness", "Robustness to corruptions",
                "a rotation head beside a classifier, tested on corrupted images (Hendrycks et al., 2019)",
                ("corruptions", "mean corrupted", 1)),
    Application("ood", "Out-of-distribution detection",
                "a rotation-based anomaly score against the maximum softmax (Hendrycks et al., 2019)",
                ("auroc", "held-out classes", 2)),
    Application("jigen", "Domain generalisation with jigsaws",
                "a jigsaw head beside a classifier, tested on an unseen image style (Carlucci et al., 2019)",
                ("leave-one-domain-out", "mean", 1)),
    Application("fewshot", "Few-shot learning",
                "a prototypical network with and without a rotation loss (Gidaris et al., 2019)",
                ("novel", "5-way 1-shot", 1)),
    Application("ssgan", "A self-supervised GAN",
                "a DCGAN whose discriminator also predicts rotations (Chen et al., 2019)",
                ("frechet", "generated images", 1)),
)
BY_NAME = {a.name: a for a in REGISTRY}


APPLICATIONS = LazyModules(__name__, BY_NAME)  # APPLICATIONS[name] -> the module, imported on first use
