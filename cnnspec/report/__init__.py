"""Stage 5: run directories -> experiment report (tables, plots, pictures).

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
