"""Checked networks shown to people: terminal tables, notebook HTML, pictures, the Pygments
lexer.  Pure Python except the PNG painter, which imports matplotlib when it is called.

This ``__init__`` stays empty so that importing one module of the package imports
nothing else.
"""
