"""Stage 1: text -> IR.  The lark grammar, the vocabulary, the pydantic IR, variants and
the canonical form.  Pure Python (lark and pydantic only).

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
