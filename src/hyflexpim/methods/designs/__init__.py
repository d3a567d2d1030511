"""Kinds of design (a spec's ``kind``), one folder each (registered in hyflexpim.config.methods): ``__init__.py``
(the registration: the spec class, the cost model and the work it prices), ``cost.py`` (no torch: the cost model).
The spec classes stay in ``hyflexpim.chip.spec``: every cost module of ``hyflexpim.hw`` types against them, and
``hw`` sits below ``methods``; the registration names them by dotted path."""
