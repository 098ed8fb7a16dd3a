"""``cnnspec lsp``: the language server over stdio (pygls), for ``.cnn`` files and Markdown.

This module only speaks the protocol: it keeps the documents (pygls does), asks
:class:`~cnnspec.lsp.analysis.Analyzer` for their specs, and turns the pure answers of
:mod:`cnnspec.lsp.features` into protocol types, converting columns between code points (the
parser's) and the client's position encoding (UTF-16 unless the client offers another).

No request may take the server down: every handler catches what a bug could raise, logs it to
the client, and answers "nothing" (an empty result), so the next keystroke is served as usual.
"""

from __future__ import annotations

import dataclasses
import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.workspace import TextDocument

from cnnspec.lsp import actions, completion, features
from cnnspec.lsp.analysis import Analysis, Analyzer, Issue

F = TypeVar("F", bound=Callable[..., Any])

SOURCE = "cnnspec"
MARKDOWN_SUFFIXES = (".md", ".markdown")


PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
_CONVERTER = default_converter()


class _Protocol(LanguageServerProtocol):
    """pygls' protocol, but publishDiagnostics goes out as the plain JSON built (and cached) by
    this module: turning hundreds of diagnostics into lsprotocol objects and back through cattrs
    cost more than checking the spec that changed (see benchmarks/bench_lsp.py)."""

    def get_message_type(self, method: str) -> Any:  # type: ignore[override]  # pygls wraps it in lru_cache
        # Only ever sent by the server, so no incoming message loses its type.
        return None if method == PUBLISH else super().get_message_type(method)


class CnnspecServer(LanguageServer):
    """The server, with its cache of checked regions and the client's settings."""

    def __init__(self, version: str = "") -> None:
        super().__init__(
            "cnnspec", version, text_document_sync_kind=types.TextDocumentSyncKind.Incremental, protocol_cls=_Protocol
        )
        self.analyzer = Analyzer()
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}
        self.settings = Settings()

    def analysis(self, uri: str) -> tuple[TextDocument, Analysis]:
        """The document and its analysis, computed once per version."""
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is not None and cached[0] == doc.version and cached[1].text == doc.source:
            return doc, cached[1]
        markdown = doc.language_id == "markdown" or uri.endswith(MARKDOWN_SUFFIXES)
        result = self.analyzer.analyse(doc.source, _origin(uri), markdown=markdown)
        self.analyses[uri] = (doc.version, result)
        return doc, result


@dataclasses.dataclass
class Settings:
    """What the client can switch (``cnnspec.inlayHints.shapes`` / ``.params``), both on by default."""

    shapes: bool = True
    params: bool = True

    def update(self, options: object) -> None:
        """Take ``{"inlayHints": {"shapes": bool, "params": bool}}``, or the same under ``"cnnspec"``."""
        if not isinstance(options, dict):
            return
        options = options.get("cnnspec", options)
        hints = options.get("inlayHints") if isinstance(options, dict) else None
        if isinstance(hints, dict):
            for key in ("shapes", "params"):
                if isinstance(hints.get(key), bool):
                    setattr(self, key, hints[key])


def _origin(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri


server = CnnspecServer()


def _safe(default: Callable[[], Any]) -> Callable[[F], F]:
    """Run a handler; on any exception log it to the client and answer ``default()``."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def run(ls: CnnspecServer, params: Any) -> Any:
            try:
                return handler(ls, params)
            except Exception:  # a bug must cost one answer, never the server
                ls.window_log_message(
                    types.LogMessageParams(type=types.MessageType.Error, message=traceback.format_exc())
                )
                return default()

        return run  # type: ignore[return-value]

    return wrap


# --------------------------------------------------------------------------
# Positions


def _units(doc: TextDocument, text: str) -> int:
    """The length of ``text`` in the client's position units (pygls counts them char by char;
    an encoder counts them in C, which matters for the hundreds of ranges of a large file)."""
    encoding = doc.position_codec.encoding
    if text.isascii() or encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _position(doc: TextDocument, lines: list[str], line: int, column: int) -> types.Position:
    """A code-point position of ``lines`` in the client's units."""
    if not lines:
        return types.Position(line=0, character=0)
    line = min(max(line, 0), len(lines) - 1)
    column = min(max(column, 0), len(lines[line]))
    return types.Position(line=line, character=_units(doc, lines[line][:column]))


def _range(doc: TextDocument, lines: list[str], r: features.Range) -> types.Range:
    return types.Range(start=_position(doc, lines, r[0], r[1]), end=_position(doc, lines, r[2], r[3]))


def _column(doc: TextDocument, lines: list[str], position: types.Position) -> tuple[int, int]:
    """A client position as (0-based line, code-point column) of ``lines``, clamped to the text."""
    if not lines or position.line >= len(lines):
        return max(len(lines) - 1, 0), len(lines[-1]) if lines else 0
    text = lines[position.line]
    units = 0
    for i, ch in enumerate(text):
        if units >= position.character:
            return position.line, i
        units += _units(doc, ch)
    return position.line, len(text)


# --------------------------------------------------------------------------
# Diagnostics


def _diagnostic_json(doc: TextDocument, lines: list[str], issue: Issue) -> dict[str, Any]:
    """A diagnostic as the protocol's JSON: the message with its hint (and its variants)."""
    d = issue.diagnostic
    message = d.message
    if issue.variants:
        message += f" (in variant{'s' * (len(issue.variants) > 1)} {', '.join(issue.variants)})"
    if d.hint:
        message += f"\nhint: {d.hint}"
    line, start, end_line, end = features.span_range(lines, d, issue.spec)
    out: dict[str, Any] = {
        "range": {
            "start": {"line": line, "character": _units(doc, lines[line][:start]) if lines else 0},
            "end": {"line": end_line, "character": _units(doc, lines[end_line][:end]) if lines else 0},
        },
        "severity": 1 if d.severity == "error" else 2,  # DiagnosticSeverity.Error / .Warning
        "code": d.code,
        "source": SOURCE,
        "message": message,
    }
    if d.hint:
        out["data"] = {"hint": d.hint}
    return out


def _diagnostic(doc: TextDocument, lines: list[str], issue: Issue) -> types.Diagnostic:
    """The same, typed (for code actions)."""
    return _CONVERTER.structure(_diagnostic_json(doc, lines, issue), types.Diagnostic)


class _DiagnosticCache:
    """Each diagnostic's JSON, kept while its line is unchanged: a spec read from the region
    cache keeps its Diagnostic objects, so a keystroke converts only the diagnostics it changed."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self.entries: dict[int, tuple[object, ...]] = {}

    def get(self, doc: TextDocument, lines: list[str], issue: Issue) -> dict[str, Any]:
        d = issue.diagnostic
        span = d.span
        line_text = lines[span.line - 1] if span is not None and 0 < span.line <= len(lines) else None
        first = issue.spec.first if issue.spec else None
        key = (issue.variants, line_text, first, doc.position_codec.encoding, len(lines))
        hit = self.entries.get(id(d))
        if hit is not None and hit[0] is d and hit[1] == key:
            return hit[2]  # type: ignore[return-value]
        out = _diagnostic_json(doc, lines, issue)
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[id(d)] = (d, key, out)  # the object itself is kept: its id cannot be reused
        return out


_diagnostics = _DiagnosticCache()


def publish(ls: CnnspecServer, uri: str) -> None:
    """Check the document and send every error and warning of its specs."""
    try:
        doc, analysis = ls.analysis(uri)
        lines = features.lines_of(doc.source)
        diagnostics = [_diagnostics.get(doc, lines, issue) for issue in analysis.issues()]
    except Exception:  # as _safe: report, publish nothing, keep serving
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=traceback.format_exc()))
        return
    ls.protocol.notify(PUBLISH, {"uri": uri, "version": doc.version, "diagnostics": diagnostics})


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: CnnspecServer, params: types.DidOpenTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: CnnspecServer, params: types.DidChangeTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: CnnspecServer, params: types.DidSaveTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: CnnspecServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.protocol.notify(PUBLISH, {"uri": params.text_document.uri, "diagnostics": []})


# --------------------------------------------------------------------------
# Hover and formatting


@server.feature(types.TEXT_DOCUMENT_HOVER)
@_safe(lambda: None)
def hover(ls: CnnspecServer, params: types.HoverParams) -> types.Hover | None:
    doc, analysis = ls.analysis(params.text_document.uri)
    lines = features.lines_of(doc.source)
    line, column = _column(doc, lines, params.position)
    found = features.hover(analysis, line, column)
    if found is None:
        return None
    text, where = found
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=_range(doc, lines, where)
    )


def _edits(doc: TextDocument, edits: list[tuple[features.Range, str]]) -> list[types.TextEdit]:
    lines = features.lines_of(doc.source)
    return [types.TextEdit(range=_range(doc, lines, r), new_text=text) for r, text in edits]


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@_safe(list)
def formatting(ls: CnnspecServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    doc, analysis = ls.analysis(params.text_document.uri)
    return _edits(doc, features.formatting(analysis))


@server.feature(types.TEXT_DOCUMENT_RANGE_FORMATTING)
@_safe(list)
def range_formatting(ls: CnnspecServer, params: types.DocumentRangeFormattingParams) -> list[types.TextEdit]:
    doc, analysis = ls.analysis(params.text_document.uri)
    return _edits(doc, features.range_formatting(analysis, params.range.start.line, params.range.end.line))


# --------------------------------------------------------------------------
# Settings and inlay hints


@server.feature(types.INITIALIZE)
@_safe(lambda: None)
def initialize(ls: CnnspecServer, params: types.InitializeParams) -> None:
    ls.settings.update(params.initialization_options)


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
@_safe(lambda: None)
def did_change_configuration(ls: CnnspecServer, params: types.DidChangeConfigurationParams) -> None:
    ls.settings.update(params.settings)
    workspace = ls.client_capabilities.workspace
    if workspace and workspace.inlay_hint and workspace.inlay_hint.refresh_support:
        ls.workspace_inlay_hint_refresh(None)


_HINT_KINDS = {"shape": types.InlayHintKind.Type, "params": None}


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
@_safe(list)
def inlay_hint(ls: CnnspecServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    doc, analysis = ls.analysis(params.text_document.uri)
    lines = features.lines_of(doc.source)
    found = features.inlay_hints(
        analysis, params.range.start.line, params.range.end.line, ls.settings.shapes, ls.settings.params
    )
    return [
        types.InlayHint(
            position=_position(doc, lines, h.line, h.column), label=h.label, kind=_HINT_KINDS[h.kind], padding_left=True
        )
        for h in found
    ]


# --------------------------------------------------------------------------
# Completion and code actions

_COMPLETION_KINDS = {
    "section": types.CompletionItemKind.Keyword,
    "item": types.CompletionItemKind.Value,
    "modifier": types.CompletionItemKind.Property,
}


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" ", ":"]))
@_safe(list)
def complete(ls: CnnspecServer, params: types.CompletionParams) -> list[types.CompletionItem]:
    doc, analysis = ls.analysis(params.text_document.uri)
    lines = features.lines_of(doc.source)
    line, column = _column(doc, lines, params.position)
    out = []
    for n, c in enumerate(completion.completions(analysis, line, column)):
        where = _range(doc, lines, (line, c.start, line, column))
        out.append(
            types.CompletionItem(
                label=c.label,
                kind=_COMPLETION_KINDS[c.kind],
                detail=c.detail,
                text_edit=types.TextEdit(range=where, new_text=c.label),
                sort_text=f"{n:03d}",  # the vocabulary's order: headers in section order, then items
            )
        )
    return out


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]),
)
@_safe(list)
def code_action(ls: CnnspecServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    doc, analysis = ls.analysis(uri)
    lines = features.lines_of(doc.source)
    found = actions.code_actions(ls.analyzer, analysis, params.range.start.line, params.range.end.line, _origin(uri))
    out = []
    for action in found:
        edits = [types.TextEdit(range=_range(doc, lines, r), new_text=text) for r, text in action.edits]
        fixes: list[types.Diagnostic] = []
        if action.issue is not None:
            mine = _diagnostic(doc, lines, action.issue)
            fixes = [d for d in params.context.diagnostics if d.code == mine.code and d.range == mine.range] or [mine]
        out.append(
            types.CodeAction(
                title=action.title,
                kind=types.CodeActionKind.QuickFix if action.issue else types.CodeActionKind.RefactorRewrite,
                diagnostics=fixes or None,
                is_preferred=action.preferred or None,
                edit=types.WorkspaceEdit(changes={uri: edits}),
            )
        )
    return out


def main(version: str = "") -> None:
    """Serve over standard input and output until the client says exit."""
    server.version = version
    server.start_io()
