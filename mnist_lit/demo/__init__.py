"""The drawing demo: a web page that reads digits drawn or uploaded (``python -m mnist_lit.demo``).

- ``app.py``: the Gradio page, its options and the actions behind its buttons.
- ``recognise.py``: one image read by a trained network, as the page shows it.
"""
