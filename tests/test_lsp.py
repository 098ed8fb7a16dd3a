"""The language server end to end: `cnnspec lsp` runs as a subprocess and speaks JSON-RPC.

Every answer is asserted with its exact range (0-based lines, UTF-16 columns as the protocol
counts them), on `.cnn` files and on the `cnn` blocks of Markdown files.
"""

from __future__ import annotations

import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from cnnspec import check, parse
from cnnspec.network.sources import check_source

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = [sys.executable, "-m", "cnnspec", "lsp"]


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(), initialization_options={"inlayHints": {"shapes": True}}
        )
    )
    yield
    await lsp_client.shutdown_session()


_count = 0


async def open_doc(client: LanguageClient, text: str, suffix: str = ".cnn") -> str:
    """Open a new document and wait for its diagnostics; returns its uri."""
    global _count
    _count += 1
    uri = f"file:///work/doc{_count}{suffix}"
    language = "markdown" if suffix == ".md" else "cnn"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def rng(line: int, start: int, end: int, end_line: int | None = None) -> types.Range:
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=line if end_line is None else end_line, character=end),
    )


def summary(client: LanguageClient, uri: str) -> list[tuple[str, types.Range, types.DiagnosticSeverity]]:
    return [(str(d.code), d.range, d.severity) for d in client.diagnostics[uri]]  # type: ignore[misc]


async def test_diagnostics_on_open_with_exact_ranges_codes_and_hints(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 32x32x3 C: 16r 16 d5 D: 16R O: 10\n")
    diags = client.diagnostics[uri]
    assert summary(client, uri) == [
        ("E201", rng(0, 16, 17), types.DiagnosticSeverity.Error),
        ("E130", rng(0, 22, 23), types.DiagnosticSeverity.Error),
    ]
    # The message is the library's, with its hint: the server adds no wording of its own.
    ref = check_source("I: 32x32x3 C: 16r 16 d5 D: 16R O: 10\n")[0].errors
    assert [d.message for d in diags] == [f"{d.message}\nhint: {d.hint}" for d in ref]
    assert diags[0].message.endswith("hint: activation letters are uppercase: 16R")
    assert diags[0].source == "cnnspec"


async def test_every_spec_of_a_multi_spec_file_is_checked(client: LanguageClient) -> None:
    text = "# table\nm1 = I: 8x8x1 C: 16k9v\nm2 = I: 8x8x1 C: 16\nm1 = C: 4\nm3 = C: 16 d7\n"
    uri = await open_doc(client, text)
    assert [(code, r) for code, r, _ in summary(client, uri)] == [
        ("E303", rng(3, 0, 2)),
        ("E401", rng(1, 17, 22)),
        ("E130", rng(4, 12, 13)),
    ]


async def test_variants_report_each_problem_once_naming_the_variants(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 8x8x1 C: {4,16}k3 {5,9}k1v\n")
    diags = client.diagnostics[uri]
    assert not diags  # every variant is valid
    uri = await open_doc(client, "I: 4x4x1 C: 8 {8,16}k3v\n")
    diags = client.diagnostics[uri]
    assert len(diags) == 1, [d.message for d in diags]
    assert diags[0].code == "E401"
    assert diags[0].range == rng(0, 14, 23)  # the caret covers the braces that made the token
    # Only the 16-filter variant shrinks below 1x1: the message says which.
    assert "needs at least 3x3 (in variant spec-16)\nhint: " in diags[0].message


async def test_warnings_are_published_as_warnings(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 32x32x3 C: 16n d½ D: 4096R O: 10\n")
    severities = {d.severity for d in client.diagnostics[uri]}
    assert severities == {types.DiagnosticSeverity.Warning}


async def test_markdown_blocks_are_checked_at_document_positions(client: LanguageClient) -> None:
    text = "# Report\n\nSome text.\n\n```cnn\nm26 = I: 32x32x3 C: 16n q D: 16R\n```\n\n```python\nC: q\n```\n"
    uri = await open_doc(client, text, ".md")
    assert [(code, r) for code, r, _ in summary(client, uri)] == [("E200", rng(5, 24, 25))]


async def test_change_republishes_and_close_clears(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 8x8x1 C: 16 32\n")
    assert not client.diagnostics[uri]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=rng(0, 12, 14), text="16q")],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [(code, r) for code, r, _ in summary(client, uri)] == [("E201", rng(0, 14, 15))]
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert not client.diagnostics[uri]


async def test_utf16_columns_after_an_astral_character(client: LanguageClient) -> None:
    # The emoji is one code point and two UTF-16 units: the caret moves one unit right.
    # Only a (malformed) name can hold one before a token: "m😀x" is 3 code points, 4 units.
    uri = await open_doc(client, "m😀x = C: 16q\nok = C: 16q\n")
    assert [(code, r) for code, r, _ in summary(client, uri)] == [("E302", rng(0, 0, 4)), ("E201", rng(1, 10, 11))]


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)
        )
    )


async def test_hover_on_an_item_shows_its_layers(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 32x32x3 C: 16n 16n d¼ D: 16R O: 10\n")
    found = await hover(client, uri, 0, 19)  # the second 16n, which closes its group: the implied pool
    assert found is not None and found.range == rng(0, 18, 21)
    value = found.contents.value  # type: ignore[union-attr]
    assert value.splitlines()[0] == "**`16n`** → 16x16x16"
    assert "| conv2 · Conv2D | 32x32x16 | 2,320 | 2,359,296 |" in value
    assert "| conv2_bn · BatchNormalization | 32x32x16 | 64 | 0 |" in value
    assert "| pool1 · MaxPooling2D (implied) | 16x16x16 | 0 | 0 |" in value


async def test_hover_on_a_header_or_name_shows_the_totals(client: LanguageClient) -> None:
    uri = await open_doc(client, "m26 = I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10\n")
    for character in (1, 17, 19):  # the name, the C: header, just after it (the cursor after "C:")
        found = await hover(client, uri, 0, character)
        assert found is not None
        value = found.contents.value  # type: ignore[union-attr]
        assert value.startswith("**m26**")
        checked = check(parse("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"))
        assert f"parameters **49,994** ({checked.trainable_params:,} trainable, " in value
        assert "input 32x32x3 → output 10" in value
    assert await hover(client, uri, 0, 4) is None  # on the '='


async def formatting(client: LanguageClient, uri: str) -> list[types.TextEdit] | None:
    return await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )


async def test_formatting_gives_the_canonical_form_and_keeps_comments(client: LanguageClient) -> None:
    text = "# the table\nm1 = C: 16n 16n   d.25 # small\nm2 = C:32\n   D: 16R\n\n"
    uri = await open_doc(client, text)
    edits = await formatting(client, uri)
    assert list(edits or ()) == [
        types.TextEdit(
            range=rng(0, 0, 9, end_line=3),
            new_text="# the table\nm1 = C: 16n 16n p d¼  # small\nm2 = C: 32 p D: 16R",
        )
    ]
    uri = await open_doc(client, "C: 16 p\n")
    assert not await formatting(client, uri)  # already canonical
    uri = await open_doc(client, "C: 16q\n")
    assert not await formatting(client, uri)  # an invalid spec is left as it is


async def test_range_formatting_formats_one_spec(client: LanguageClient) -> None:
    uri = await open_doc(client, "m1 = C: 16 16\nm2 = C: 16 16\n")
    edits = await client.text_document_range_formatting_async(
        types.DocumentRangeFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng(1, 0, 3),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert list(edits or ()) == [types.TextEdit(range=rng(1, 0, 13), new_text="m2 = C: 16 16 p")]


async def test_markdown_formatting_edits_each_block(client: LanguageClient) -> None:
    text = "Text\n\n```cnn\nC: 16 16\n```\n\n~~~cnn\nm = C:8\n~~~\n"
    uri = await open_doc(client, text, ".md")
    edits = await formatting(client, uri)
    assert list(edits or ()) == [
        types.TextEdit(range=rng(3, 0, 8), new_text="C: 16 16 p"),
        types.TextEdit(range=rng(7, 0, 7), new_text="m = C: 8 p"),
    ]


async def inlay(client: LanguageClient, uri: str, lines: int = 10) -> list[tuple[int, int, str]]:
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(text_document=types.TextDocumentIdentifier(uri=uri), range=rng(0, 0, 0, end_line=lines))
    )
    return [(h.position.line, h.position.character, str(h.label)) for h in hints or ()]


async def test_inlay_hints_show_each_output_shape_and_the_total(client: LanguageClient) -> None:
    uri = await open_doc(client, "m = I: 32x32x3 C: 16n 16n d¼ D: 16R\n  O: 10  # head\n")
    assert await inlay(client, uri) == [
        (0, 21, "32x32x16"),
        (0, 25, "32x32x16, pool 16x16x16"),  # the group's implied pool
        (0, 28, "16x16x16"),
        (0, 35, "16"),
        (1, 7, "10"),
        (1, 7, f"{check(parse('I: 32x32x3 C: 16n 16n d¼ D: 16R O: 10')).total_params:,} params"),
    ]


async def test_inlay_hints_of_variants_show_each_value(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 8x8x1 C: {4,8}\n")
    assert await inlay(client, uri) == [
        (0, 17, "8x8x4, pool 4x4x4 | 8x8x8, pool 4x4x8"),
        (0, 17, "40 params | 80 params"),
    ]


async def test_inlay_hints_follow_the_settings(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 8x8x1 C: 4 p\n")
    assert await inlay(client, uri) == [(0, 13, "8x8x4"), (0, 15, "4x4x4"), (0, 15, "40 params")]
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"cnnspec": {"inlayHints": {"shapes": False}}})
    )
    assert await inlay(client, uri) == [(0, 15, "40 params")]
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"cnnspec": {"inlayHints": {"shapes": True, "params": False}}})
    )
    assert await inlay(client, uri) == [(0, 13, "8x8x4"), (0, 15, "4x4x4")]
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"cnnspec": {"inlayHints": {"params": True}}})
    )


async def complete(client: LanguageClient, uri: str, line: int, character: int) -> list[types.CompletionItem]:
    found = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)
        )
    )
    items = found.items if isinstance(found, types.CompletionList) else found
    return list(items or ())


async def test_completion_offers_headers_items_and_modifiers(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 32x32x3 A: fl C: 16 3\nD: 1\n")
    after_count = await complete(client, uri, 0, 24)  # after "3" in C:: the modifiers of a conv
    labels = [i.label for i in after_count]
    assert labels[:5] == ["I:", "A:", "C:", "D:", "O:"]
    assert {"3k5", "3s2", "3v", "3n", "3L2", "3R", "3T", "3S"} <= set(labels)
    k5 = next(i for i in after_count if i.label == "3k5")
    assert k5.detail == "5x5 kernel (default k3)"
    assert k5.text_edit == types.TextEdit(range=rng(0, 23, 24), new_text="3k5")
    in_aug = [i.label for i in await complete(client, uri, 0, 16)]  # after "fl" in A:
    assert {"flip", "vflip", "hvflip", "rot.1", "zoom.1"} <= set(in_aug)
    in_conv = [i.label for i in await complete(client, uri, 0, 23)]  # a new item in C:
    assert {"p", "p3", "ap", "gap", "gmp", "p0", "d¼"} <= set(in_conv)
    in_dense = [i.label for i in await complete(client, uri, 1, 4)]  # after "1" in D:
    assert "1v" not in in_dense and "1k5" not in in_dense and {"1n", "1R", "1L2"} <= set(in_dense)
    assert await complete(client, uri, 0, 24) and not await complete(client, await open_doc(client, "# C: 16"), 0, 7)


async def actions(client: LanguageClient, uri: str, line: int) -> list[types.CodeAction]:
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng(line, 0, 0, end_line=line),
            context=types.CodeActionContext(diagnostics=list(client.diagnostics.get(uri, ()))),
        )
    )
    return [a for a in found or () if isinstance(a, types.CodeAction)]


def _edits(action: types.CodeAction, uri: str) -> list[tuple[types.Range, str]]:
    assert action.edit is not None and action.edit.changes is not None
    return [(e.range, e.new_text) for e in action.edit.changes[uri]]


async def test_code_actions_apply_the_exact_fixes_that_hints_name(client: LanguageClient) -> None:
    uri = await open_doc(client, "a = I: 28x28 C: 16r 16 d5\nb = c: 16\nc = I: 8x8x1 C: 16 k5\n")
    found = await actions(client, uri, 0)
    assert [(a.title, _edits(a, uri)) for a in found] == [
        ("Replace '28x28' with '28x28x1'", [(rng(0, 7, 12), "28x28x1")]),
        ("Replace '28x28' with '28x28x3'", [(rng(0, 7, 12), "28x28x3")]),
        ("Replace '16r' with '16R'", [(rng(0, 16, 19), "16R")]),
        ("Replace 'd5' with 'd.5'", [(rng(0, 23, 25), "d.5")]),
        ("Replace 'd5' with 'd5%'", [(rng(0, 23, 25), "d5%")]),
    ]
    assert [a.kind for a in found] == [types.CodeActionKind.QuickFix] * 5
    assert found[0].is_preferred and not found[1].is_preferred
    assert found[2].diagnostics and found[2].diagnostics[0].code == "E201"
    other = [(a.title, _edits(a, uri)) for line in (1, 2) for a in await actions(client, uri, line)]
    assert other == [
        ("Replace 'c:' with 'C:'", [(rng(1, 4, 6), "C:")]),
        ("Replace '16 k5' with '16k5'", [(rng(2, 16, 21), "16k5")]),
    ]


async def test_code_action_writes_the_implied_pools_out(client: LanguageClient) -> None:
    uri = await open_doc(client, "I: 32x32x3 C: 16n 16n d¼ 32\n")
    found = await actions(client, uri, 0)
    assert [(a.title, a.kind, _edits(a, uri)) for a in found] == [
        ("Write the implied pools out", types.CodeActionKind.RefactorRewrite, [
            (rng(0, 21, 21), " p"), (rng(0, 27, 27), " p"),
        ]),
    ]  # fmt: skip

    # The same network, written out: the same layers, shapes and parameters.
    def layers(text: str) -> list[tuple[object, ...]]:
        return [(x.kind, x.output_shape, x.params) for x in check(parse(text)).layers]

    assert layers("I: 32x32x3 C: 16n 16n p d¼ 32 p") == layers("I: 32x32x3 C: 16n 16n d¼ 32")
    assert not await actions(client, await open_doc(client, "I: 8x8x1 C: 8 p\n"), 0)  # no implied pools
