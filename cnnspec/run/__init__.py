"""Stage 4: model + image folder -> run directory (data, training, evaluation, sweeps).

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
