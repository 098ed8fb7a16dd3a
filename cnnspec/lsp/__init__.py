"""The language server (``cnnspec lsp``): specs checked as they are typed, in any editor.

:mod:`~cnnspec.lsp.analysis` checks a document's specs region by region (pure Python);
:mod:`~cnnspec.lsp.features` answers hover, inlay hints, formatting, completion and code
actions from that analysis (pure Python); :mod:`~cnnspec.lsp.server` speaks the protocol
(pygls).  Like the stages it uses (notation, network), it never imports TensorFlow.
"""
