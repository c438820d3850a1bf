"""Figures and tables: tensors in, matplotlib figures or text out (pure functions).

- ``plots.py``: the data, the training curves, the predictions and mistakes, the network's
  filters and feature maps.
- ``tables.py``: the per-digit table, the confusion matrix and the layer table, as text.
- ``introspect.py``: each layer's output shape and parameters, and the conv feature maps.
- ``calibration.py``: the expected calibration error and the reliability diagram.
- ``attributions.py``: attribution maps over their digits (the report's figure, the demo's picture).
"""
