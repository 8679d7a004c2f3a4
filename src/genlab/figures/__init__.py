"""Figures of trained models, one module per family, on the generic figure types of
:mod:`~genlab.figures.plots`. Each function takes models (and data) and writes one PNG
atomically; none knows of run directories."""
