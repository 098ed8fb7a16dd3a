"""The articles' networks in ``examples/``: checker == Keras == the articles' figures.

Every spec of every ``examples/*.cnn`` file is checked, built with Keras and
compared layer by layer (names, output shapes, parameters, trainable and
non-trainable).  Where an article prints figures, ``examples/expected.json``
records them with their source and both the checker and the model must match.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import cnnspec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))["examples"]


def _example_specs() -> list[tuple[str, cnnspec.Spec]]:
    out = []
    for path in sorted(EXAMPLES.glob("*.cnn")):
        for spec in cnnspec.load(path).specs:
            out.append((f"{path.name}:{spec.name}" if spec.name else path.name, spec))
    return out


SPECS = _example_specs()


def _weights(weights: list) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.fixture(scope="module")
def keras_models() -> dict[str, object]:
    """Each example built once (Keras import and builds take a few seconds)."""
    return {key: cnnspec.build(spec, seed=0) for key, spec in SPECS}


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES.glob("*.cnn")}
    assert {"cifar10_convnet.cnn", "mnist_mlp.cnn", "mnist_conv_pool.cnn", "experiments.cnn"} <= names
    assert len(SPECS) >= 12


@pytest.mark.parametrize("key,spec", SPECS, ids=[k for k, _ in SPECS])
def test_example_is_valid_and_canonical_round_trips(key: str, spec: cnnspec.Spec) -> None:
    checked = cnnspec.check(spec)
    assert checked.ok, checked.errors
    assert not checked.head_from_data
    again = cnnspec.parse(cnnspec.format(spec))
    assert cnnspec.format(again) == cnnspec.format(spec)
    assert cnnspec.check(again).total_params == checked.total_params


@pytest.mark.parametrize("key,spec", SPECS, ids=[k for k, _ in SPECS])
def test_checker_equals_keras(key: str, spec: cnnspec.Spec, keras_models: dict) -> None:
    checked = cnnspec.check(spec)
    model = keras_models[key]
    keras_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert [layer.name for layer in keras_layers] == [layer.name for layer in checked.layers]
    for ours, theirs in zip(checked.layers, keras_layers, strict=True):
        assert ours.kind == type(theirs).__name__, ours.name
        assert ours.output_shape == tuple(theirs.output.shape[1:]), ours.name
        assert ours.params == theirs.count_params(), ours.name
        assert ours.trainable_params == _weights(theirs.trainable_weights), ours.name
        assert ours.non_trainable_params == _weights(theirs.non_trainable_weights), ours.name
    assert checked.total_params == model.count_params()
    assert checked.trainable_params == _weights(model.trainable_weights)
    assert checked.non_trainable_params == _weights(model.non_trainable_weights)
    assert checked.output_shape == tuple(model.output.shape[1:])


def _find(entry: dict) -> cnnspec.Spec:
    specs = cnnspec.load(EXAMPLES / entry["file"])
    return specs[entry["spec"]] if "spec" in entry else specs.specs[0]


@pytest.mark.parametrize(
    "entry", EXPECTED, ids=[e["file"] + (":" + e["spec"] if "spec" in e else "") for e in EXPECTED]
)
def test_articles_printed_figures(entry: dict, keras_models: dict) -> None:
    spec = _find(entry)
    checked = cnnspec.check(spec)
    model = keras_models[f"{entry['file']}:{spec.name}" if spec.name else entry["file"]]
    for key in ("total_params", "trainable_params", "non_trainable_params"):
        if key in entry:
            assert getattr(checked, key) == entry[key], (key, entry["source"])
    if "total_params" in entry:
        assert model.count_params() == entry["total_params"]
    if "total_params_thousands" in entry:
        # The article writes "963k": thousands, truncated.
        assert checked.total_params // 1000 == entry["total_params_thousands"]
        assert model.count_params() // 1000 == entry["total_params_thousands"]
    by_name = {layer.name: layer for layer in checked.layers}
    for name, want in entry["layers"].items():
        layer = by_name[name]
        if "output_shape" in want:
            assert list(layer.output_shape) == want["output_shape"], name
            assert list(model.get_layer(name).output.shape[1:]) == want["output_shape"], name
        if "params" in want:
            assert layer.params == want["params"], name
            assert model.get_layer(name).count_params() == want["params"], name


def test_every_expected_entry_names_a_source() -> None:
    for entry in EXPECTED:
        assert entry["source"].startswith("seed 00"), entry
        assert (EXAMPLES / entry["file"]).is_file()
