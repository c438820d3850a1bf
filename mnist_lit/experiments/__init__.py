"""Experiments that train many models and compare them (each run is a ``fit`` of the CLI).

python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml
"""
