"""The shape math of ``cnnspec.network.shapes`` as a table, in the manner of Keras' conv tests.

Each row states one case of the contract with its expected length; the
expected value is then re-derived from Keras' own formula (written as
``operation_utils.compute_conv_output_shape`` writes it, with float floors
and the dilation term) and from Keras itself, so no number here is copied
from the function under test.
"""

from __future__ import annotations

import math

import pytest

from cnnspec.network.shapes import (
    conv_output_size,
    gib,
    human,
    human_bytes,
    parse_shape,
    pool_output_size,
    shape_text,
)

# size, kernel, stride, padding, expected output length, what the row shows
CONV_ROWS = [
    (32, 3, 1, "same", 32, "same padding, stride 1 keeps the size"),
    (32, 3, 2, "same", 16, "same padding divides by the stride"),
    (33, 3, 2, "same", 17, "same padding rounds up an odd size"),
    (32, 5, 2, "valid", 14, "valid: floor((32 - 5) / 2) + 1"),
    (5, 5, 1, "valid", 1, "a valid kernel exactly as large as the map"),
    (4, 5, 1, "valid", 0, "a valid kernel larger than the map: nothing fits"),
    (3, 7, 1, "valid", -3, "a much larger kernel: negative, which the checker reports as E401"),
    (1, 3, 1, "same", 1, "1x1 input, same padding"),
    (1, 1, 1, "valid", 1, "1x1 input, 1x1 valid kernel"),
    (1, 3, 1, "valid", -1, "1x1 input, 3x3 valid kernel"),
    (3, 1, 5, "same", 1, "a stride larger than the map, same padding: one output"),
    (3, 1, 5, "valid", 1, "a stride larger than the map, valid padding: one output"),
    (7, 3, 3, "valid", 2, "the stride skips the last column"),
    (10**12, 3, 1, "valid", 10**12 - 2, "integers, no float rounding, at any size"),
]

# size, pool, expected, what the row shows (stride = pool, valid padding)
POOL_ROWS = [
    (32, 2, 16, "an even size halves"),
    (7, 2, 3, "an odd size drops the last row"),
    (2, 2, 1, "a pool as large as the map"),
    (1, 2, 0, "a 1x1 map cannot be pooled by 2: E402"),
    (3, 4, 0, "a pool larger than the map"),
    (1, 1, 1, "a 1x1 pool of a 1x1 map"),
    (9, 3, 3, "pool 3"),
]


# size, pool, stride, padding, expected, what the row shows (version 2: p3s2, p2s1, p3s2z, pz)
STRIDED_POOL_ROWS = [
    (32, 3, 2, "valid", 15, "p3s2: floor((32 - 3) / 2) + 1, overlapping windows"),
    (7, 2, 1, "valid", 6, "p2s1: a stride below the size"),
    (32, 3, 2, "same", 16, "p3s2z: 'same' gives ceil(32 / 2)"),
    (15, 2, 2, "same", 8, "pz: an odd size rounds up, 15 -> 8"),
    (10, 2, 3, "valid", 3, "a stride above the size skips a row between windows"),
    (1, 3, 2, "same", 1, "'same' never shrinks below 1"),
    (2, 3, 2, "valid", 0, "a valid pool larger than the map: E402"),
    (3, 3, 5, "valid", 1, "one window, the stride beyond the map"),
]


def keras_conv_formula(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Keras' formula (operation_utils.compute_conv_output_shape), in floats as Keras computes it."""
    if padding == "valid":
        return int(math.floor((size - dilation * (kernel - 1) - 1) / stride) + 1)
    return int(math.floor((size - 1) / stride) + 1)


def keras_pool_formula(size: int, pool: int) -> int:
    """Keras' compute_pooling_output_shape, valid padding, strides = pool_size."""
    return int(math.floor((size - pool) / pool) + 1)


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "expected", "why"), CONV_ROWS)
def test_conv_output_size(size: int, kernel: int, stride: int, padding: str, expected: int, why: str) -> None:
    if size < 2**50:  # beyond that the float formula itself rounds
        assert keras_conv_formula(size, kernel, stride, padding) == expected, why
    assert conv_output_size(size, kernel, stride, padding) == expected, why


@pytest.mark.parametrize(("size", "pool", "expected", "why"), POOL_ROWS)
def test_pool_output_size(size: int, pool: int, expected: int, why: str) -> None:
    assert keras_pool_formula(size, pool) == expected, why
    assert pool_output_size(size, pool) == expected, why


def keras_strided_pool_formula(size: int, pool: int, stride: int, padding: str) -> int:
    """Keras' compute_pooling_output_shape, in floats as Keras computes it."""
    if padding == "valid":
        return int(math.floor((size - pool) / stride) + 1)
    return int(math.floor((size - 1) / stride) + 1)


@pytest.mark.parametrize(("size", "pool", "stride", "padding", "expected", "why"), STRIDED_POOL_ROWS)
def test_strided_and_padded_pool_output_size(
    size: int, pool: int, stride: int, padding: str, expected: int, why: str
) -> None:
    assert keras_strided_pool_formula(size, pool, stride, padding) == expected, why
    assert pool_output_size(size, pool, stride, padding) == expected, why


def test_the_tables_agree_with_keras_itself() -> None:
    """Keras' own shape function gives the same length, and rejects what the checker rejects."""
    from keras.src.ops.operation_utils import compute_conv_output_shape, compute_pooling_output_shape

    for size, kernel, stride, padding, expected, why in CONV_ROWS:
        if size > 2**50:
            continue
        shape = (None, size, size, 1)
        if expected < 1:
            with pytest.raises(ValueError):
                compute_conv_output_shape(shape, 1, (kernel, kernel), stride, padding)
            continue
        out = compute_conv_output_shape(shape, 1, (kernel, kernel), stride, padding)
        assert out[1:3] == (expected, expected), why
    for size, pool, expected, why in POOL_ROWS:
        shape = (None, size, size, 1)
        if expected < 1:
            with pytest.raises(ValueError):
                compute_pooling_output_shape(shape, (pool, pool), (pool, pool), "valid")
            continue
        out = compute_pooling_output_shape(shape, (pool, pool), (pool, pool), "valid")
        assert out[1] == expected, why
    for size, pool, stride, padding, expected, why in STRIDED_POOL_ROWS:
        shape = (None, size, size, 1)
        if expected < 1:
            with pytest.raises(ValueError):
                compute_pooling_output_shape(shape, (pool, pool), (stride, stride), padding)
            continue
        out = compute_pooling_output_shape(shape, (pool, pool), (stride, stride), padding)
        assert out[1] == expected, why


def test_parse_shape_and_shape_text_are_inverse() -> None:
    for shape in [(32, 32, 3), (1, 1, 1), (4096, 4096, 3)]:
        assert parse_shape(shape_text(shape)) == shape
    assert parse_shape("28X28x1") == (28, 28, 1)


@pytest.mark.parametrize("text", ["32x32", "32x32x0", "axbxc", "32x32x3x1", "-1x2x3", "", "9" * 5000 + "x1x1"])
def test_parse_shape_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected HxWxC"):
        parse_shape(text)


def test_human_prints_integers_of_any_size() -> None:
    """Huge totals (issue 14): a float of 10**400 overflows; the text must not."""
    assert human(1_234_567) == "1.23M"
    assert human(0) == "0"
    assert human(10**400) == "1.00e400"
    assert human(-(10**400)) == "-1.00e400"
    assert human_bytes(2**1100).endswith(" GiB")


def test_gib_rounds_as_float_formatting_does() -> None:
    for n in [0, 1, 2**30, 17 * 2**30 + 12345, 3 * 2**29, 2**30 // 20, 2**28 * 161, 10**20]:
        assert gib(n) == f"{n / 2**30:,.1f}", n
    assert gib(10**400).startswith("9,313,225,746,154,78")
