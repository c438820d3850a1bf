"""How models hold up on digits unlike MNIST's test set: corruptions, other writers, users' images.

python -m mnist_lit.robustness --ckpt_path best --data.mirror ../shared/data/mnist

``corruptions.py`` (MNIST-C's fifteen and writer-style shifts), ``own_images.py`` (photos, canvas
exports, print), ``suite.py`` (scoring), ``plots.py`` (the figure), ``command.py`` (the command).
"""
