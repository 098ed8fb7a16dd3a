"""`%load_ext cnnspec` gives `%%cnn` and `%cnn`: run in IPython's own shell, output captured as
a notebook receives it (one HTML table per spec, then its picture as SVG)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import cnnspec
from cnnspec.network.sources import check_source


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "cnnspec")
    return ipython


def outputs(shell: InteractiveShell, code: str) -> list[dict[str, str]]:
    with capture_output() as captured:
        result = shell.run_cell(code)
    assert result.error_in_exec is None and result.error_before_exec is None, captured.stderr
    return [out.data for out in captured.outputs]


def test_load_ext_registers_both_magics(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.magics
    assert "cnn" in magics["cell"] and "cnn" in magics["line"]


def test_cell_magic_shows_each_specs_table_and_picture(shell: InteractiveShell) -> None:
    cell = "m26 = I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10\nm28 = I: 32x32x3 C: 16n 16n d¼ D: 8R O: 10\n"
    shown = outputs(shell, "%%cnn\n" + cell)
    assert [sorted(d) for d in shown] == [
        ["text/html", "text/plain"],
        ["image/svg+xml", "text/plain"],
        ["text/html", "text/plain"],
        ["image/svg+xml", "text/plain"],
    ]
    m26, m28 = check_source(cell)
    assert f"Total params: {m26.checked.total_params:,}" in shown[0]["text/html"]  # type: ignore[union-attr]
    assert f"Total params: {m28.checked.total_params:,}" in shown[2]["text/html"]  # type: ignore[union-attr]
    assert "m26: " in shown[0]["text/html"] and "m28: " in shown[2]["text/html"]
    assert shown[1]["image/svg+xml"].lstrip().startswith("<svg")


def test_cell_magic_shows_diagnostics_with_carets(shell: InteractiveShell) -> None:
    shown = outputs(shell, "%%cnn --no-picture\nI: 8x8x1 C: 16q 16\n")
    assert len(shown) == 1
    html = shown[0]["text/html"]
    assert "&lt;cell&gt;:1:15: error[E201]: unknown modifier" in html
    assert "  I: 8x8x1 C: 16q 16\n" + " " * 16 + "^" in html  # the caret under the q
    shrink = outputs(shell, "%%cnn\nI: 8x8x1 C: 16k9v\n")
    assert len(shrink) == 1 and "E401" in shrink[0]["text/html"]  # an invalid network: no picture


def test_cell_magic_takes_input_and_classes(shell: InteractiveShell) -> None:
    shown = outputs(shell, "%%cnn --input 28x28x1 --classes 10 --no-picture\nC: 64 32 D: 32R\n")
    expected = cnnspec.check(cnnspec.parse("C: 64 32 D: 32R"), (28, 28, 1), 10).total_params
    assert len(shown) == 1 and f"Total params: {expected:,}" in shown[0]["text/html"]


def test_line_magic_checks_one_spec(shell: InteractiveShell) -> None:
    shown = outputs(shell, "%cnn -i 32x32x3 C: 16 32 D: 10  # comment kept")
    assert [sorted(d) for d in shown] == [["text/html", "text/plain"], ["image/svg+xml", "text/plain"]]
    expected = cnnspec.check(cnnspec.parse("C: 16 32 D: 10"), (32, 32, 3)).total_params
    assert f"Total params: {expected:,}" in shown[0]["text/html"]


def test_variants_show_one_table_each(shell: InteractiveShell) -> None:
    shown = outputs(shell, "%cnn --no-picture I: 8x8x1 C: {4,8}")
    assert len(shown) == 2 and "spec-4" in shown[0]["text/html"] and "spec-8" in shown[1]["text/html"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%cnn", "no spec given"),
        ("%cnn --input 8x8 C: 16", "--input: expected HxWxC"),
        ("%%cnn --bogus\nC: 16", "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_are_messages_not_tracebacks(shell: InteractiveShell, code: str, message: str) -> None:
    with capture_output() as captured:
        shell.run_cell(code)
    assert message in captured.stderr + captured.stdout
    assert "Traceback" not in captured.stderr + captured.stdout


def test_a_notebook_executed_by_nbclient_shows_the_table_and_the_picture() -> None:
    """The magics in a real kernel, as Jupyter runs a notebook (nbclient + ipykernel)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext cnnspec"),
        nbformat.v4.new_code_cell("%%cnn --input 28x28x1\nm = C: 64 32 D: 32R O: 10\nbad = C: 16q"),
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[1].outputs
    kinds = [sorted(o.get("data", {})) for o in outputs]
    assert kinds == [["text/html", "text/plain"], ["image/svg+xml", "text/plain"], ["text/html", "text/plain"]]
    expected = cnnspec.check(cnnspec.parse("C: 64 32 D: 32R O: 10"), (28, 28, 1)).total_params
    assert f"Total params: {expected:,}" in outputs[0]["data"]["text/html"]
    assert "error[E201]" in outputs[2]["data"]["text/html"]


def test_cell_magic_shows_a_residual_network_with_its_blocks(shell: InteractiveShell) -> None:
    cell = "resnet = I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10\n"
    table, picture = outputs(shell, "%%cnn\n" + cell)
    assert '<th class="l">block</th>' in table["text/html"]
    assert "┌ 1" in table["text/html"] and "└ 2" in table["text/html"]
    svg = picture["image/svg+xml"]
    assert svg.count('class="skip"') == 2 and 'data-shortcut="projection"' in svg
