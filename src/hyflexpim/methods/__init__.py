"""Methods, one folder each, both halves in it (see hyflexpim.config.methods and docs/extending.md).

``predictors/<name>/``: a relevance predictor of dynamic sparse attention — ``__init__.py`` (its registration,
strings only), ``accuracy.py`` (torch: config class and scorer, the ``sim`` side), ``cost.py`` (no torch: its
price, the ``hw`` side). tests/test_layering.py holds each half to its side's imports.
"""
