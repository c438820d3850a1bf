"""Explanations: which pixels made the network read a digit as it did (Captum).

- ``attributions.py``: ``Explainer``, maps by Integrated Gradients, Occlusion or Grad-CAM, for the
  predicted digit or any other ("why not a 1?").
- ``sanity.py``: the checks a map must pass to be worth showing (Adebayo et al., 2018): maps of a
  randomised network rank pixels differently (``randomised``, ``rank_correlation``), and painting
  the top-ranked pixels black costs the prediction more than random ones (``deletion``).
- ``gallery.py``: the report's and TensorBoard's figures: right digits of each class and the most
  confident mistakes, each with its maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.explain.attributions import METHODS, Explainer
    from mnist_lit.explain.gallery import attribution_figures, choose_examples
    from mnist_lit.explain.sanity import deletion, randomised, rank_correlation

__all__ = [
    "METHODS",
    "Explainer",
    "attribution_figures",
    "choose_examples",
    "deletion",
    "randomised",
    "rank_correlation",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "METHODS": "attributions",
        "Explainer": "attributions",
        "attribution_figures": "gallery",
        "choose_examples": "gallery",
        "deletion": "sanity",
        "randomised": "sanity",
        "rank_correlation": "sanity",
    },
)
