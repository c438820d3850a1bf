"""Callbacks: what runs beside the model in the Trainer's loop.

- ``dashboards.py``: ``Dashboards``, the figures and hyperparameters (TensorBoard, MLflow).
- ``loggers.py``: what each Lightning logger can take (figures, text); loggers that cannot start.
- ``ema.py``: ``EMA``, an exponential moving average of the weights.
- ``progress.py``: ``ProgressBar``, redrawn without making the host wait every step.
- ``predictions.py``: ``PredictionWriter``, the ``predict`` command's CSV file.
- ``summary.py``: ``TestSummary``, the per-digit table and confusion matrix printed after ``test``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.callbacks.dashboards import Dashboards
    from mnist_lit.callbacks.ema import EMA
    from mnist_lit.callbacks.predictions import PredictionWriter
    from mnist_lit.callbacks.progress import ProgressBar
    from mnist_lit.callbacks.summary import TestSummary

__all__ = ["EMA", "Dashboards", "PredictionWriter", "ProgressBar", "TestSummary"]

__getattr__ = lazy_attributes(
    __name__,
    {
        "Dashboards": "dashboards",
        "EMA": "ema",
        "PredictionWriter": "predictions",
        "ProgressBar": "progress",
        "TestSummary": "summary",
    },
)
