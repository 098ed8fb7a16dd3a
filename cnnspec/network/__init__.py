"""Stage 2: IR -> checked network.  Shapes, parameters, MACs, memory and advice, in pure
Python; the static pipeline in one call (:func:`cnnspec.network.sources.check_source`).

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
