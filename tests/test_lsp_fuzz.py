"""The server never goes down: thousands of random edits, each followed by the diagnostics it
causes, with every kind of request in between, on a `.cnn` and a Markdown document.

Every request must answer (a result, or an LSP error), no handler may hit a bug (the server
logs each one it catches as an error message: there must be none), and at the end the server
still answers exactly: its diagnostics for a known text are `cnnspec check`'s.
"""

from __future__ import annotations

import asyncio
import random
import sys

import pytest
import pytest_lsp
import specgen
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from cnnspec.network.sources import check_source

pytestmark = pytest.mark.asyncio(loop_scope="module")

EDITS = 2000
#: Pieces of text an edit inserts: notation, its mistakes, and characters that move columns.
PIECES = [
    *"IACDO:0123456789 kxsvnRTSEGWIL=.e-/%pagmd#_{},[]+",
    "\n", "\t", "\r\n", "½", "¼", "⅟", "😀", "\u2028", "\x0c", "\x00", "C: ", "D: ", "m = ", "m1 = ", "16n", "d5",
    "p0", "gap", "{16,32}", "```cnn\n", "```\n", "~~~", "28x28", "rot", "c:", "16 k5", "# note",
]  # fmt: skip


# With --stdio, as vscode-languageclient starts a server (the flag is accepted and changes nothing).
SERVER = [sys.executable, "-m", "cnnspec", "lsp", "--stdio"]


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


def _position(rng: random.Random, text: str) -> types.Position:
    lines = text.split("\n")
    line = rng.randrange(len(lines) + 2)  # now and then past the end
    width = len(lines[line]) if line < len(lines) else 0
    return types.Position(line=line, character=rng.randrange(width + 3))


async def _request(client: LanguageClient, rng: random.Random, uri: str, text: str) -> None:
    doc = types.TextDocumentIdentifier(uri=uri)
    pos = _position(rng, text)
    whole = types.Range(start=types.Position(line=0, character=0), end=_position(rng, text))
    options = types.FormattingOptions(tab_size=4, insert_spaces=True)
    kind = rng.randrange(6)
    if kind == 0:
        call = client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos))
    elif kind == 1:
        call = client.text_document_completion_async(types.CompletionParams(text_document=doc, position=pos))
    elif kind == 2:
        call = client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc, range=whole))
    elif kind == 3:
        context = types.CodeActionContext(diagnostics=list(client.diagnostics.get(uri, ())))
        call = client.text_document_code_action_async(
            types.CodeActionParams(text_document=doc, range=whole, context=context)
        )
    elif kind == 4:
        call = client.text_document_formatting_async(types.DocumentFormattingParams(text_document=doc, options=options))
    else:
        call = client.text_document_range_formatting_async(
            types.DocumentRangeFormattingParams(text_document=doc, range=whole, options=options)
        )
    try:
        await asyncio.wait_for(call, timeout=20)
    except asyncio.TimeoutError:
        raise AssertionError("the server stopped answering") from None
    except Exception as exc:  # an LSP error is an answer; anything else is not
        assert type(exc).__name__ in {"JsonRpcException", "JsonRpcInternalError", "JsonRpcInvalidParams"}, exc


async def _fuzz(client: LanguageClient, suffix: str, seed: int) -> None:
    rng = random.Random(seed)
    text = specgen.random_file(rng, n=4)[0]
    if suffix == ".md":
        text = f"# Notes\n\n```cnn\n{text}```\n\ntext\n"
    uri = f"file:///fuzz/doc{seed}{suffix}"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="cnn", version=1, text=text)
        )
    )
    for version in range(2, EDITS + 2):
        start, end = sorted((_position(rng, text), _position(rng, text)), key=lambda p: (p.line, p.character))
        piece = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 4)))
        change = types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text=piece)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
            )
        )
        if rng.random() < 0.15:
            await _request(client, rng, uri, text)
    # A known text at the end, sent whole: the server answers it exactly.
    final = "m1 = I: 28x28x1 C: 16r 16\nm2 = I: 8x8x1 C: 16k9v\n"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=EDITS + 2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=final)],
        )
    )
    # The server handles messages in order and publishes from the change's handler, so once a
    # request made after the change is answered, the change's diagnostics have arrived.
    await _request(client, rng, uri, final)
    expected = [d.code for r in check_source(final) for d in r.errors]
    assert [d.code for d in client.diagnostics[uri]] == (expected if suffix == ".cnn" else [])


@pytest.mark.parametrize(("suffix", "seed"), [(".cnn", 1), (".md", 2)])
async def test_random_edits_never_take_the_server_down(client: LanguageClient, suffix: str, seed: int) -> None:
    await _fuzz(client, suffix, seed)
    errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
    assert not errors, errors[0]
