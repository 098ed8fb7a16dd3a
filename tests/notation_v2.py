"""Version-2 texts for the notation's own tests: a generator of valid v2 specs
(every new item: strided and padded pools, ``b``/``B``, bare items, ``sep``,
``dw``, residual blocks), the tokens that mutations insert, and the IR's meaning
without its spans.

The generator is the parser's, not the checker's: its specs are valid as text
(every rule of NOTATION.md's "Version 2" that the parser holds), not checked
against an input shape (``tests/specgen.py`` makes specs the checker and Keras
agree on); the checker must still check each without raising.
"""

from __future__ import annotations

import random
from typing import Any

from cnnspec.notation.ir import Block, Dropout, Spec

#: Tokens of version 2 that mutations insert: valid items, and errors.
V2_VALID_TOKENS = [
    "p3s2",
    "p3s2z",
    "pz",
    "ps1",
    "ap3s2",
    "16b",
    "16B",
    "64bR",
    "64sepk5s2b",
    "dw",
    "dws2B",
    "n",
    "R",
    "T",
]
V2_BAD_TOKENS = [
    "p1s2", "p3s0", "p3v", "pz3", "p0s2", "gapz", "16Ib", "16nb", "16z", "64Sep", "32dw", "dw2", "I", "b", "B", "[",
    "]+", "]+R", "]+I", "]", "[16", "16]+", "16In]+R", "[]+", "[[16", "]+[16", "]+16", "]+RT", "16]",
]  # fmt: skip
V2_TOKENS = V2_VALID_TOKENS + V2_BAD_TOKENS

ACTS = "RTSEGWI"


def _shape_mods(r: random.Random) -> list[str]:
    mods = []
    if r.random() < 0.3:
        mods.append(r.choice(["k1", "k5", "k3x5", "k2"]))
    if r.random() < 0.25:
        mods.append(f"s{r.choice([1, 2, 3])}")
    if r.random() < 0.2:
        mods.append("v")
    return mods


def _norm_act_mods(r: random.Random, l2: bool = True) -> list[str]:
    mods = []
    norm = r.choice(["", "", "n", "b", "B"])
    if norm:
        mods.append(norm)
    if r.random() < 0.4:
        mods.append(r.choice(ACTS))
    if l2 and r.random() < 0.15:
        mods.append(r.choice(["L2", "L2=0.001", "L2=1e-4"]))
    return mods


def _glued(r: random.Random, head: str, mods: list[str]) -> str:
    r.shuffle(mods)  # modifiers in any order
    return head + "".join(mods)


def conv(r: random.Random) -> str:
    mods = _shape_mods(r) + _norm_act_mods(r)
    if r.random() < 0.2:
        mods.append("sep")
    return _glued(r, str(r.choice([4, 8, 8, 16])), mods)


def depthwise(r: random.Random) -> str:
    return _glued(r, "dw", _shape_mods(r) + _norm_act_mods(r))


def pool(r: random.Random) -> str:
    mods = []
    if r.random() < 0.4:
        mods.append(f"s{r.choice([1, 2, 3])}")
    if r.random() < 0.4:
        mods.append("z")
    size = r.choice(["", "", "2", "3"])
    r.shuffle(mods)
    return r.choice(["p", "ap"]) + size + "".join(mods)


def dropout(r: random.Random) -> str:
    return "d" + r.choice(["¼", "½", ".1", "25%", "1/3", "0"])


def bare(r: random.Random) -> str:
    return r.choice(["n", "R", "T", "S", "E", "G", "W"])


def _plain_item(r: random.Random, pools: bool) -> str:
    kinds = [conv, conv, conv, depthwise, dropout, bare] + ([pool] if pools else [])
    return r.choice(kinds)(r)


def block(r: random.Random, pools: bool) -> str:
    items = [_plain_item(r, pools) for _ in range(r.randint(0, 3))]
    items.insert(r.randrange(len(items) + 1), r.choice([conv, conv, depthwise])(r))
    close = "]+" + r.choice(["", "", "R", "I", "T"])
    sep = r.choice([" ", "", "\n  "])  # `[64`, `[ 64`; `64]+`, `64 ]+`
    return "[" + sep + " ".join(items) + r.choice([" ", ""]) + close


def conv_section(r: random.Random) -> str:
    pools = r.random() < 0.5  # explicit pools, or the implied ones (or p0)
    items: list[str] = []
    for _ in range(r.randint(1, 6)):
        items.append(block(r, pools) if r.random() < 0.25 else _plain_item(r, pools))
    if not pools and r.random() < 0.3:
        items.insert(r.randrange(len(items) + 1), "p0")  # also beside a block: allowed, dropped
    elif r.random() < 0.2:  # a global pool is a pooling item: never beside p0
        items.append(r.choice(["gap", "gmp"]) + (" d½" if r.random() < 0.3 else ""))
    return "C: " + " ".join(items)


def dense_section(r: random.Random) -> str:
    items = []
    for _ in range(r.randint(1, 4)):
        k = r.random()
        if k < 0.6:
            items.append(_glued(r, str(r.choice([3, 8, 16])), _norm_act_mods(r)))
        elif k < 0.8:
            items.append(dropout(r))
        else:
            items.append(bare(r))
    return "D: " + " ".join(items)


def random_v2_text(r: random.Random) -> str:
    """One valid version-2 spec (as text: the parser accepts it)."""
    parts = []
    if r.random() < 0.5:
        parts.append(f"I: {r.choice([8, 16, 32])}x{r.choice([8, 16, 32])}x{r.choice([1, 3])}")
    has_c = r.random() < 0.9
    if has_c:
        parts.append(conv_section(r))
    if not has_c or r.random() < 0.6:
        parts.append(dense_section(r))
    if r.random() < 0.5:
        parts.append("O: " + r.choice(["10", "1", "10I", "4"]))
    return r.choice([" ", "\n"]).join(parts)


# --------------------------------------------------------------------------
# The IR's meaning


def meaning(spec: Spec) -> dict[str, Any]:
    """The IR without spans, texts, source and implied flags (the canonical form
    spells implied pools out) and p0's place; rates as the floats Keras gets;
    ``b`` with the identity as ``n`` (the same layers: the formatter writes ``n``)."""
    dump = spec.model_dump(exclude={"name", "source", "origin", "first_line"})

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("prenorm") == "b" and node.get("activation") == "I":
                node = {**node, "prenorm": None, "batchnorm": True}
            drop = ("span", "text", "implied", "close", "close_text")
            return {k: strip(v) for k, v in node.items() if k not in drop}
        if isinstance(node, (list, tuple)):
            return [strip(v) for v in node]
        return node

    out = strip(dump)

    def rates(items: Any, nodes: Any) -> None:
        for item, node in zip(items or [], nodes or [], strict=True):
            if isinstance(node, Dropout):
                item["rate"] = float(node.rate)
            elif isinstance(node, Block):
                rates(item["items"], node.items)

    rates(out["conv"], spec.conv)
    rates(out["dense"], spec.dense)
    if spec.head is not None:  # O: 1 and O: 1S are one head
        out["head"]["activation"] = spec.head.keras_activation
    # p0 adds no layer; the canonical form writes it last, and leaves it out beside a block.
    out["p0"] = any(item["kind"] == "nopool" for item in out["conv"] or []) and not spec.has_blocks
    out["conv"] = out["conv"] and [item for item in out["conv"] if item["kind"] != "nopool"]
    return out
