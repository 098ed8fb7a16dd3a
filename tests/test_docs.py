"""Every spec example in the docs is checked.

Fenced blocks, by language:

- ``cnn``: valid specs; each parses and checks with no error (with
  ``--input 32x32x3`` when the block has no ``I:``); ``cnn W501 W502``
  also asserts exactly those warnings.
- ``cnn-error E201 E110``: invalid specs; checking them gives exactly the
  error codes listed (as a multiset, in any order).
- ``cnn-fmt``: lines ``written => canonical``; ``fmt`` gives the canonical
  form, and the canonical form is a fixed point.
- ``python keras``: a Keras model as a tutorial writes it (section "From a
  Keras model"); ``from-keras`` of it gives the spec of the ``cnn`` block right
  after it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest
from golden_util import run_cli

import cnnspec
from cnnspec.network.sources import check_source

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "notation.md", ROOT / "docs" / "cli.md"]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
DEFAULT_INPUT = "32x32x3"


def _blocks(language: str) -> list[tuple[str, str, list[str]]]:
    """(id, body, extra info words) of every block of ``language`` in the docs."""
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            words = m["info"].split()
            if words and words[0] == language:
                line = text.count("\n", 0, m.start()) + 1
                out.append((f"{doc.name}:{line}", m["body"], words[1:]))
    return out


def _keras_examples() -> list[tuple[str, str, str]]:
    """(id, Keras code, spec) of every ``python keras`` block and the ``cnn`` block after it."""
    text = (ROOT / "docs" / "notation.md").read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    out = []
    for m, after in itertools.pairwise(fences):
        if m["info"].split() == ["python", "keras"]:
            assert after["info"].split() == ["cnn"], "a keras example is followed by its spec"
            out.append((f"notation.md:{text.count(chr(10), 0, m.start()) + 1}", m["body"], after["body"].strip()))
    return out


VALID = _blocks("cnn")
INVALID = _blocks("cnn-error")
FMT = _blocks("cnn-fmt")


def _check(body: str) -> list:
    shape = None if "I:" in body else DEFAULT_INPUT
    return check_source(body, "<doc>", shape)


def test_the_docs_hold_many_examples() -> None:
    assert len(VALID) >= 20
    assert len(INVALID) >= 30
    assert sum(len(b.strip().splitlines()) for _, b, _ in FMT) >= 25


@pytest.mark.parametrize("where,body,words", VALID, ids=[w for w, _, _ in VALID])
def test_valid_example(where: str, body: str, words: list[str]) -> None:
    results = _check(body)
    assert results
    for res in results:
        assert res.ok, f"{where}: {[(d.code, d.message) for d in res.errors]}"
    if words:  # ```cnn W501 W502: exactly these warnings
        assert sorted(d.code for res in results for d in res.warnings) == sorted(words), where


@pytest.mark.parametrize("where,body,words", INVALID, ids=[w for w, _, _ in INVALID])
def test_invalid_example(where: str, body: str, words: list[str]) -> None:
    assert words, f"{where}: a cnn-error block names the codes it must give"
    codes = [d.code for res in _check(body) for d in res.errors]
    assert sorted(codes) == sorted(words), where


@pytest.mark.parametrize("where,body,words", FMT, ids=[w for w, _, _ in FMT])
def test_canonical_form_example(where: str, body: str, words: list[str]) -> None:
    for line in body.strip().splitlines():
        written, canonical = (part.strip() for part in line.split(" => "))
        assert cnnspec.format(cnnspec.parse(written)) == canonical, line
        assert cnnspec.format(cnnspec.parse(canonical)) == canonical, line
        # The docs promise what `cnnspec fmt` prints, so hold the command too.
        run = run_cli(["fmt", "--spec", written])
        assert run.exit_code == 0, run.output
        assert run.output == canonical + "\n", line


KERAS = _keras_examples()


def test_the_keras_section_holds_examples() -> None:
    assert len(KERAS) >= 4


@pytest.mark.parametrize("where,code,spec", KERAS, ids=[w for w, _, _ in KERAS])
def test_from_keras_example(where: str, code: str, spec: str) -> None:
    """The section "From a Keras model": the model as written, and the spec from-keras gives."""
    import keras
    from keras import layers

    from cnnspec.model.from_keras import from_keras

    scope: dict[str, object] = {"keras": keras, "layers": layers}
    exec(code, scope)  # the doc's own code, as a reader pastes it
    assert from_keras(scope["model"]) == spec, where


def test_the_figures_of_the_v2_sections() -> None:
    """The parameter and MAC counts docs/notation.md writes, held to the checker and to Keras."""
    resnet = cnnspec.check(cnnspec.parse("I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10"))
    assert (resnet.total_params, resnet.non_trainable_params) == (78_474, 448)
    projection = next(la for la in resnet.layers if la.role == "projection")
    assert projection.params == 2_112 and projection.output_shape == (16, 16, 64)
    image = cnnspec.check(cnnspec.parse("I: 28x28x1 C: [16 16]+ gap O: 10"))
    assert next(la.params for la in image.layers if la.role == "projection") == 32
    sep, plain, dw = (
        cnnspec.check(cnnspec.parse(f"I: 32x32x32 C: {item} p0 O: 2")).layers[1] for item in ("64sep", "64", "dw")
    )
    assert (sep.kind, sep.params, sep.macs, plain.params) == ("SeparableConv2D", 2_400, 2_392_064, 18_496)
    assert (dw.kind, dw.params, dw.macs) == ("DepthwiseConv2D", 320, 294_912)
    # Keras, the oracle: the same parameters in the built models.
    for text, layer in (("64sep", sep), ("64", plain), ("dw", dw)):
        model = cnnspec.build(cnnspec.parse(f"I: 32x32x32 C: {text} p0 O: 2"))
        assert model.get_layer(layer.name).count_params() == layer.params
    for checked in (resnet, image):
        assert cnnspec.build(checked.spec).count_params() == checked.total_params
    model = cnnspec.build(resnet.spec)
    assert sum(math.prod(w.shape) for w in model.non_trainable_weights) == 448


def test_fmt_keeps_comments_where_the_notation_says() -> None:
    """docs/notation.md, 'cnnspec's choice — comments', through the command."""
    written = "# before\nm1 = C: 16 # end of line\n# after\nm2 = C: 8 # one\n  4 # two\n"
    run = run_cli(["fmt", "-"], stdin=written)
    assert run.exit_code == 0, run.output
    assert run.output == "# before\nm1 = C: 16 p  # end of line\n# after\n# one\n# two\nm2 = C: 8 p 4 p\n"


def test_every_error_code_is_documented_and_exists() -> None:
    """The notation's table of codes and the codes the core emits are the same set."""
    doc = (ROOT / "docs" / "notation.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (E[0-4]\d\d|W5\d\d) \|", doc, re.M))
    source = "".join(
        (ROOT / "cnnspec" / f).read_text(encoding="utf-8")
        for f in (
            "notation/parser.py",
            "notation/items.py",
            "notation/units.py",
            "network/checker.py",
            "network/advice.py",
            "model/builder.py",
        )
    )
    emitted = set(re.findall(r'"(E[0-4]\d\d|W5\d\d)"', source))
    assert documented == emitted


def test_cli_doc_mentions_every_check_option() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for option in (
        "--spec",
        "--input",
        "--classes",
        "--json",
        "--format",
        "--strict",
        "--check",
        "--write",
        "CNNSPEC_UPDATE_GOLDEN",
    ):
        assert option in doc


def test_cnnspec_check_reads_the_notation_doc_itself() -> None:
    """`cnnspec check docs/notation.md` finds the valid blocks, and no error but E400 (no input)."""
    run = run_cli(["check", "notation.md", "--json"], cwd=ROOT / "docs")
    results = json.loads(run.output)
    assert len(results) >= len(VALID)
    codes = {e["code"] for r in results for e in r["errors"]}
    assert codes <= {"E400"}, codes
    assert any(r["valid"] for r in results)


def test_every_module_path_the_docs_name_exists() -> None:
    # The package moved once (issue 9); a doc naming a file that is no longer there misleads.
    named = {
        (doc.name, path)
        for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for path in re.findall(r"\bcnnspec/[\w/]+\.py\b", doc.read_text(encoding="utf-8"))
    }
    missing = sorted(f"{doc}: {path}" for doc, path in named if not (ROOT / path).is_file())
    assert named and not missing, missing
    tables = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = [p.name for p in (ROOT / "cnnspec").iterdir() if (p / "__init__.py").is_file()]
    for package in packages:  # every subpackage has its row in the architecture table
        assert f"`cnnspec/{package}/`" in tables, package
