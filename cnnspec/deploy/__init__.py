"""Stage 5: run -> ONNX file, and prediction with ONNX Runtime.

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
