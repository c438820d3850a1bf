"""The report: every figure and a Markdown page for one checkpoint (``python -m mnist_lit.report``).

- ``command.py``: the command: options, evaluation, figures, files written.
- ``curves.py``: the training curves read back from a run's TensorBoard event files.
- ``markdown.py``: the report page.
"""
