"""Position encodings: a client that offers only UTF-8 gets UTF-8 columns (the protocol's
default is UTF-16, tested in test_lsp.py)."""

from __future__ import annotations

import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

_result: list[types.InitializeResult] = []


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "cnnspec", "lsp"]))
async def client(lsp_client: LanguageClient):
    capabilities = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf8])
    )
    _result.append(await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities)))
    yield
    await lsp_client.shutdown_session()


async def test_utf8_columns_count_bytes(client: LanguageClient) -> None:
    assert _result[0].capabilities.position_encoding == types.PositionEncodingKind.Utf8
    uri = "file:///enc/a.cnn"
    text = "m😀x = C: 16\nok = C: d¼ 16q\nok2 = I: 8x8x1 C: d¼ 16\n"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="cnn", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    got = [
        (d.code, d.range.start.line, d.range.start.character, d.range.end.character) for d in client.diagnostics[uri]
    ]
    # "m😀x" is 6 bytes; in "ok = C: d¼ 16q" the ¼ is 2 bytes, so the q is at byte 14, not column 13.
    assert got == [("E302", 0, 0, 6), ("E201", 1, 14, 15)]
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=22)
        )
    )
    assert hover is not None and hover.range is not None
    assert (hover.range.start.character, hover.range.end.character) == (22, 24)  # the 16 after d¼, in bytes
