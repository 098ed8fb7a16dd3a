"""Stage 3: checked network <-> Keras model (build, and model -> spec).  Keras is imported
inside the functions that need it.

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
