"""Alias of ``mnist_lit.callbacks.EMA``, so configs that name ``mnist_lit.averaging.EMA`` still load."""

from mnist_lit.callbacks.ema import EMA

__all__ = ["EMA"]
