"""The public API: every advertised name resolves, lazily, to the real object."""

from __future__ import annotations

import importlib

import cnnspec


def test_all_matches_the_lazy_exports():
    assert set(cnnspec.__all__) == set(cnnspec._EXPORTS) | {"__version__", "build", "load_ipython_extension"}


def test_every_public_name_is_the_defining_modules_object():
    for name, module in cnnspec._EXPORTS.items():
        assert getattr(cnnspec, name) is getattr(importlib.import_module(module), name), name


def test_unknown_attribute_is_an_attribute_error():
    try:
        cnnspec.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("expected AttributeError")
