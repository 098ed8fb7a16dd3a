"""Property tests: nothing but SpecError, canonical round-trips, JSON round-trips.

Hypothesis runs with the ``ci`` profile of ``conftest.py``: derandomized (the
same examples on every run), no deadline.  ``HYPOTHESIS_PROFILE=dev`` explores
fresh examples.  Valid specs come from :mod:`specgen` and (version 2, the
parser's view) :mod:`notation_v2`, seeded by hypothesis, and are then mutated
character by character and token by token.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import specgen
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st
from notation_v2 import V2_VALID_TOKENS, meaning, random_v2_text

import cnnspec
from cnnspec.network.sources import check_source

#: Characters and tokens the notation is made of, so random text often gets
#: deep into the parser instead of failing on the first character.
NOTATION_CHARS = "IACDO:0123456789 \t\nkxsvnRTSEGWIL=.e-/%pagmd#_" + specgen.UNICODE_FRACTIONS
TOKENS = [
    "I:", "A:", "C:", "D:", "O:", "c:", "X:", "p", "p0", "p1", "p3", "ap", "gap", "gmp", "d", "d5", "d½", "d1/0",
    "d12.5%", "16", "16RT", "0", "16k0", "16s0", "16L2=1e-3", "L2", "n", "16 k5", "flip", "rot", "rot.9", "zoom.1",
    "28x28", "0x1x1", "1x1x1", "99999x99999x3", "m =", "m=", "=", "\n", "# c", "#", "\t", "1e3", "½", "⅟", "\x00",
]  # fmt: skip
#: With version 2's tokens, for the mutations of v2 specs.
V2_MUTATION_TOKENS = [*TOKENS, *V2_VALID_TOKENS, "[", "]+", "p3v", "32dw"]

any_char = st.one_of(st.sampled_from(NOTATION_CHARS), st.characters())
random_text = st.text(any_char, max_size=80)


@st.composite
def valid_specs(draw) -> specgen.Generated:
    return specgen.random_spec(random.Random(draw(st.integers(0, 2**32 - 1))))


@st.composite
def mutated_specs(draw, v2: bool = False) -> str:
    """A valid spec (or named file) with 1 to 4 random edits; ``v2``: also version-2
    specs (whose mutations are valid less often: too seldom for the tests that
    reject the invalid ones, see test_canonical_form_of_mutated_specs)."""
    seed = draw(st.integers(0, 2**32 - 1))
    if v2:
        kind = draw(st.sampled_from(["spec", "file", "v2"]))
    else:
        kind = "spec" if draw(st.booleans()) else "file"
    if kind == "spec":
        text = specgen.random_spec(random.Random(seed)).text
    elif kind == "file":
        text = specgen.random_file(random.Random(seed), n=2)[0]
    else:
        text = random_v2_text(random.Random(seed))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "swap", "token", "drop_token", "dup_token"]))
        pos = draw(st.integers(0, len(text)))
        words = text.split(" ")
        i, j = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
        if op == "insert":
            text = text[:pos] + draw(any_char) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif op == "replace":
            text = text[:pos] + draw(any_char) + text[pos + 1 :]
        elif op == "swap":
            words[i], words[j] = words[j], words[i]
            text = " ".join(words)
        elif op == "token":
            words.insert(i, draw(st.sampled_from(V2_MUTATION_TOKENS if v2 else TOKENS)))
            text = " ".join(words)
        elif op == "drop_token":
            del words[i]
            text = " ".join(words)
        else:
            words.insert(i, words[j])
            text = " ".join(words)
    return text


def only_spec_errors(text: str) -> None:
    """parse / parse_file raise SpecError or nothing; what parses checks without raising."""
    for parse in (cnnspec.parse, cnnspec.parse_file):
        try:
            parsed = parse(text)
        except cnnspec.SpecError as exc:
            assert exc.diagnostics, "a SpecError without diagnostics"
            str(exc)  # rendering never fails
            continue
        for spec in parsed.specs if isinstance(parsed, cnnspec.SpecFile) else [parsed]:
            cnnspec.format(spec)
            json.dumps(spec.model_dump(mode="json"))
            for shape, classes in ((None, None), ((7, 5, 3), 4), ((1, 1, 1), 1)):
                checked = cnnspec.check(spec, shape, classes)
                json.dumps(checked.to_dict())
    for result in check_source(text):
        json.dumps(result.to_dict())


# --------------------------------------------------------------------------
# Nothing but SpecError


@given(random_text)
@settings(max_examples=300)
@example("C: 16L2=1e999")
@example("C: 99999999999999999999999 D: 99999999999999999999")
@example("I: 1x1x1 C: 16k99999999999999s99999999999 p0 O: 1")
@example("C: d99999999999999999999/999999999999999999999999")
@example("m = C: 4\nm = \n= C: 4\n")
def test_random_text_raises_only_spec_errors(text):
    only_spec_errors(text)


@given(mutated_specs(v2=True))
@settings(max_examples=300)
def test_mutated_specs_raise_only_spec_errors(text):
    only_spec_errors(text)


# --------------------------------------------------------------------------
# Canonical form


def network(spec: cnnspec.Spec, gen: specgen.Generated) -> list[tuple]:
    """The checked layers; whether a pool was implied is presentation, not network."""
    checked = cnnspec.check(spec, gen.input_shape, gen.classes)
    assert checked.ok, checked.errors
    return [
        (x.name, x.kind, x.output_shape, x.params, x.trainable_params, x.non_trainable_params, x.macs)
        for x in checked.layers
    ]


@given(valid_specs())
@settings(max_examples=200)
def test_canonical_form_round_trips(gen):
    spec = cnnspec.parse(gen.text)
    canonical = cnnspec.format(spec)
    again = cnnspec.parse(canonical)
    assert cnnspec.format(again) == canonical, "formatting is not idempotent"
    assert network(again, gen) == network(spec, gen), f"format changed the network: {canonical!r}"
    assert meaning(again) == meaning(spec), canonical


@st.composite
def v2_texts(draw) -> str:
    return random_v2_text(random.Random(draw(st.integers(0, 2**32 - 1))))


@given(v2_texts())
@settings(max_examples=300)
def test_v2_canonical_form_round_trips(text):
    """Version 2's canonical form: idempotent, the same IR modulo spans (``16Ib`` is
    written ``16In``, ``]+I`` ``]+``, ``p0`` beside a block left out), never merging
    or splitting items: as many items, each of the same kind."""
    spec = cnnspec.parse(text)
    canonical = cnnspec.format(spec)
    again = cnnspec.parse(canonical)
    assert cnnspec.format(again) == canonical, "formatting is not idempotent"
    assert meaning(again) == meaning(spec), canonical
    assert cnnspec.Spec.model_validate_json(spec.model_dump_json()) == spec
    shape = None if spec.input else (16, 16, 3)
    first, second = cnnspec.check(spec, shape, 3), cnnspec.check(again, shape, 3)
    assert [(x.kind, x.output_shape, x.params, x.non_trainable_params) for x in first.layers] == [
        (x.kind, x.output_shape, x.params, x.non_trainable_params) for x in second.layers
    ], "format changed the network"


@given(mutated_specs())
@settings(max_examples=200)
# Rates with more digits than a float holds, and tiny ones, keep their value.
@example("D: d.99999999999999999999 d1/99999999999999999999 d.12345678901234567891")
@example("A: zoom.00001 C: 4L2=1e-30 D: 3L2=123456789")
def test_canonical_form_of_mutated_specs(text):
    try:
        specs = cnnspec.parse_file(text).specs
    except cnnspec.SpecError:
        # Not `return`: a rejected example does not count, so Hypothesis' health
        # check fails this test if the mutations ever stop producing valid specs.
        reject()
    for spec in specs:
        canonical = cnnspec.format(spec)
        again = cnnspec.parse(canonical)
        assert cnnspec.format(again) == canonical
        assert meaning(again) == meaning(spec), canonical


@given(valid_specs())
@settings(max_examples=50)
def test_canonical_file_round_trips(gen):
    text, _ = specgen.random_file(random.Random(gen.text), n=3)
    parsed = cnnspec.parse_file(text)
    canonical = cnnspec.format_file(parsed)
    again = cnnspec.parse_file(canonical)
    assert cnnspec.format_file(again) == canonical
    assert [meaning(s) for s in again.specs] == [meaning(s) for s in parsed.specs]


# --------------------------------------------------------------------------
# JSON


@given(valid_specs())
def test_ir_round_trips_through_json(gen):
    spec = cnnspec.parse(gen.text)
    assert cnnspec.Spec.model_validate_json(spec.model_dump_json()) == spec
    assert cnnspec.Spec.model_validate(json.loads(spec.model_dump_json())) == spec


@given(mutated_specs())
@settings(max_examples=100)
def test_mutated_ir_round_trips_through_json(text):
    try:
        parsed = cnnspec.parse_file(text)
    except cnnspec.SpecError:
        reject()  # see test_canonical_form_of_mutated_specs
    assert cnnspec.SpecFile.model_validate_json(parsed.model_dump_json()) == parsed


# --------------------------------------------------------------------------
# The command line never shows a traceback (a few runs: subprocesses are slow)


def _mutations(n: int) -> list[str]:
    out = ["C: 16L2=1e999 O: 10", "I: 28x28 C: 16 k5 d5 gap 16", "m = C: 16\nm = C: 16RT\n= D:\n"]
    rng = random.Random(2)
    while len(out) < n:
        text = specgen.random_spec(rng).text
        pos = rng.randrange(len(text) + 1)
        glyph = rng.choice(["q", "\u00bd", "#", ":", "\u2189", "0", " ", "=", "\U0001f600"])
        out.append(text[:pos] + glyph + text[pos:])
    return out


@pytest.mark.parametrize("text", _mutations(6))
def test_cli_check_json_never_tracebacks(text):
    run = subprocess.run(
        [sys.executable, "-m", "cnnspec", "check", "--json", "--input", "16x16x3", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        encoding="utf-8",
    )
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode in (0, 1), (run.returncode, run.stderr)
    data = json.loads(run.stdout)
    entries = data if isinstance(data, list) else [data]
    assert all(entry["valid"] for entry in entries) == (run.returncode == 0)
