"""A seeded generator of random *valid* specs that covers the whole notation.

Each generated spec is valid by construction: the generator follows the map
size itself (with the rules of NOTATION.md, not with cnnspec's checker, so
a checker that wrongly rejects a valid spec shows up as a test failure
rather than as a silently skipped example).  It writes every feature of the
notation in every spelling it allows:

* convolutions with their modifiers glued in random order (``k5``,
  ``k3x5``, ``s2``, ``v``, ``n``, one activation letter, ``L2``,
  ``L2=1e-3``), in sections with implied pools, written pools (``p p2 p3
  ap ap3``), ``gap`` / ``gmp`` and ``p0``;
* dropouts with every rate syntax: all Unicode fractions, ``1/4``, ``.25``,
  ``0.25``, ``25%``, ``12.5%``, ``0``;
* dense layers with modifiers, heads ``O: N`` with ``I`` / ``S`` letters and
  ``O: 1``, ``A:`` augmentations, ``I:`` shapes (or none, given apart);
* one-line and multi-line layouts, tabs, comments, a header touching its
  first item (``C:16``), and named multi-spec files;
* version 2 (about 60% of the specs): ``b``/``B``, ``sep``, ``dw`` with its
  modifiers, bare ``n`` and bare activations (a convolution's own layers and
  not, so the amended grouping rule of implied pools is exercised), pools with
  a stride and ``z`` in every spelling (``p3s2``, ``pz``, ``ps1``, ``p3zs2``),
  residual blocks ``[ … ]+`` with identity and projection shortcuts, with or
  without an activation after the ``+``, the brackets glued to their items or
  apart, and (``variants=True``) braces variants inside blocks.

``features`` of a :class:`Generated` names what it used, so a test can prove
that a run covered everything (:data:`ALL_FEATURES`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

UNICODE_FRACTIONS = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
ACTIVATIONS = "RTSEGWI"
FILTERS = (1, 2, 3, 4, 6, 8, 12, 16)
AUGMENT_LIMITS = {
    "flip": None,
    "vflip": None,
    "hvflip": None,
    "rot": 0.5,
    "zoom": 1.0,
    "shift": 1.0,
    "contrast": 1.0,
    "bright": 1.0,
}
RATE_FORMS = ("unicode", "fraction", "dot", "zero_dot", "zero", "percent", "percent_dec", "long_dot", "big_fraction")
L2_FORMS = ("L2", "L2=1e-3", "L2=0.001", "L2=.05", "L2=2e-4", "L2=1", "L2=1e-30", "L2=2.5")

ALL_FEATURES = frozenset(
    {f"rate_{form}" for form in RATE_FORMS}
    | {f"unicode_{ch}" for ch in UNICODE_FRACTIONS}
    | {f"conv_act_{a}" for a in ACTIVATIONS}
    | {f"dense_act_{a}" for a in ACTIVATIONS}
    | {f"head_act_{a}" for a in "IS"}
    | {f"aug_{name}" for name in AUGMENT_LIMITS}
    | {f"l2_{form}" for form in L2_FORMS}
    | {
        f"v2_{name}"
        for name in (
            "conv_b",
            "conv_B",
            "conv_sep",
            "dw",
            "dw_mods",
            "dw_own_bare",
            "bare_n_conv",
            "bare_act_conv",
            "bare_n_dense",
            "bare_act_dense",
            "dense_b",
            "dense_B",
            "own_bare_in_group",
            "bare_ends_nothing",
            "pool_stride",
            "pool_z",
            "pool_stride_z",
            "pool_z_first",
            "pool_size_left_out",
            "pool_valid_in_block",
            "block_identity",
            "block_projection",
            "block_stride_projection",
            "block_act",
            "block_plain",
            "block_I",
            "block_open_glued",
            "block_close_glued",
            "block_pool",
            "block_dw",
            "block_sep",
            "block_dropout",
            "block_bare",
            "block_first",
            "block_note",
            "block_p0",
            "block_valid_conv",
            "implied_dw",
            "block_in_variants",
        )
    }
    | {
        "conv_k_square",
        "conv_k_rect",
        "conv_s",
        "conv_v",
        "conv_n",
        "conv_l2",
        "dense_n",
        "dense_l2",
        "head_l2",
        "head_1",
        "pools_implied",
        "pools_written",
        "pool_p",
        "pool_p2",
        "pool_pN",
        "pool_ap",
        "pool_apN",
        "gap",
        "gmp",
        "p0",
        "input_written",
        "input_given",
        "head_written",
        "head_given",
        "augment",
        "no_conv",
        "no_dense",
        "multiline",
        "comment",
        "tab",
        "header_touching",
    }
)


@dataclass
class Generated:
    """One random valid spec; ``input_shape`` / ``classes`` are set when the
    text leaves ``I:`` / ``O:`` out and they must be given to check/build."""

    text: str
    input_shape: tuple[int, int, int] | None = None
    classes: int | None = None
    features: set[str] = field(default_factory=set)
    #: True when the text holds braces variants: expand it (each variant is valid).
    variants: bool = False


class _Gen:
    def __init__(self, rng: random.Random, max_side: int, variants: bool = False) -> None:
        self.rng = rng
        self.max_side = max_side
        self.features: set[str] = set()
        #: Version-2 items in this spec (most specs); the rest stay version 1.
        self.v2 = rng.random() < 0.6
        self.allow_variants = variants
        self.has_variants = False

    # -- small pieces -------------------------------------------------------

    def rate(self) -> str:
        """A dropout rate in [0, 1) in one of the notation's spellings."""
        r = self.rng
        # The tables write Unicode fractions most; 18 of them need many draws.
        form = "unicode" if r.random() < 0.35 else r.choice(RATE_FORMS)
        self.features.add(f"rate_{form}")
        if form == "unicode":
            ch = r.choice(UNICODE_FRACTIONS)
            self.features.add(f"unicode_{ch}")
            return ch
        if form == "fraction":
            den = r.randint(1, 12)
            return f"{r.randint(0, den - 1)}/{den}"
        if form == "dot":
            return "." + str(r.randint(0, 999)).zfill(r.randint(1, 3))
        if form == "zero_dot":
            return "0." + str(r.randint(0, 99)).zfill(r.randint(1, 2))
        if form == "zero":
            return "0"
        if form == "long_dot":  # more digits than a float holds: kept exactly
            return "." + "".join(r.choice("0123456789") for _ in range(r.randint(15, 24)))
        if form == "big_fraction":
            den = r.randint(13, 10**22)
            return f"{r.randint(0, den - 1)}/{den}"
        if form == "percent":
            return f"{r.randint(0, 99)}%"
        return f"{r.randint(0, 99)}.{r.randint(0, 9)}%"

    def dropout(self) -> str:
        return "d" + self.rate()

    def l2(self, where: str) -> str:
        form = self.rng.choice(L2_FORMS)
        self.features.update({f"l2_{form}", f"{where}_l2"})
        return form

    def activation(self, where: str, letters: str = ACTIVATIONS) -> str:
        a = self.rng.choice(letters)
        self.features.add(f"{where}_act_{a}")
        return a

    # -- C: -----------------------------------------------------------------

    def conv(
        self, filters: int, h: int, w: int, min_out: int, *, depthwise: bool = False
    ) -> tuple[str, int, int] | None:
        """A conv token (``dw`` when ``depthwise``) whose output is at least ``min_out`` on both sides."""
        r = self.rng
        for _ in range(6):
            mods: dict[str, str] = {}
            kh = kw = 3
            stride = 1
            valid = False
            if r.random() < 0.4:
                if r.random() < 0.5:
                    kh = kw = r.randint(1, 5)
                    mods["k"] = f"k{kh}"
                else:
                    kh, kw = r.randint(1, 5), r.randint(1, 5)
                    mods["k"] = f"k{kh}x{kw}"
            if r.random() < 0.3:
                stride = r.randint(1, 3)
                mods["s"] = f"s{stride}"
            if r.random() < 0.3:
                valid = True
                mods["v"] = "v"
            if valid:
                oh = (h - kh) // stride + 1 if h >= kh else 0
                ow = (w - kw) // stride + 1 if w >= kw else 0
            else:
                oh, ow = -(-h // stride), -(-w // stride)
            if oh < min_out or ow < min_out:
                continue
            self.norm_and_activation(mods, "conv")
            for key, feature in (("s", "conv_s"), ("v", "conv_v"), ("n", "conv_n")):
                if key in mods:
                    self.features.add(feature)
            if "k" in mods:
                self.features.add("conv_k_rect" if "x" in mods["k"] else "conv_k_square")
            if not depthwise and self.v2 and r.random() < 0.2:
                mods["sep"] = "sep"
                self.features.add("v2_conv_sep")
            order = list(mods.values())
            r.shuffle(order)
            if depthwise:
                self.features.add("v2_dw")
                if mods:
                    self.features.add("v2_dw_mods")
                return "dw" + "".join(order), oh, ow
            return str(filters) + "".join(order), oh, ow
        return None

    def norm_and_activation(self, mods: dict[str, str], where: str) -> None:
        """``n`` or (version 2) ``b``/``B``, at most one; an activation letter; ``L2``."""
        r = self.rng
        x = r.random()
        if x < 0.3:
            mods["n"] = "n"
        elif self.v2 and x < 0.5:
            mods["b"] = r.choice("bB")
            self.features.add(f"v2_{'dense' if where == 'dense' else 'conv'}_{mods['b']}")
        if r.random() < (0.5 if where == "conv" else 0.6):
            mods["act"] = self.activation(where)
        if r.random() < (0.15 if where == "conv" else 0.2):
            mods["L2"] = self.l2(where)

    def bare(self, where: str, own: bool) -> str:
        """A bare ``n`` or activation letter (version 2); ``own``: right after a layer's token."""
        item = "n" if self.rng.random() < 0.5 else self.rng.choice("RTSEGW")
        self.features.add(f"v2_bare_{'n' if item == 'n' else 'act'}_{where}")
        return item

    def pool(self, h: int, w: int, *, in_block: bool = False) -> tuple[str, int, int] | None:
        """A written pool that fits ``h`` x ``w``: version 1's, or (v2) with a stride and ``z``."""
        r = self.rng
        op = r.choice(["", "a"])
        size = r.choice([2, 2, 2, 3, 4])
        if not self.v2 or (r.random() < 0.4 and not in_block):
            if h < size or w < size:
                return None
            spelled = "" if size == 2 and r.random() < 0.6 else str(size)
            self.features.add(f"pool_{op}p{'N' if size != 2 else spelled}")
            return f"{op}p{spelled}", h // size, w // size
        stride = r.choice([None, 1, 2, 3]) if r.random() < 0.7 else None
        same = r.random() < (0.7 if in_block else 0.4)
        if not same and (h < size or w < size):
            return None
        step = size if stride is None else stride
        if same:
            oh, ow = -(-h // step), -(-w // step)
        else:
            oh, ow = (h - size) // step + 1, (w - size) // step + 1
        mods = [f"s{stride}"] if stride is not None else []
        if same:
            mods.append("z")
        if len(mods) == 2 and r.random() < 0.5:
            mods.reverse()
            self.features.add("v2_pool_z_first")
        if stride is not None:
            self.features.add("v2_pool_stride_z" if same else "v2_pool_stride")
        elif same:
            self.features.add("v2_pool_z")
        written_size = str(size)
        if size == 2 and mods and r.random() < 0.4:
            written_size = ""  # pz is p2z, ps1 is p2s1
            self.features.add("v2_pool_size_left_out")
        return f"{op}p{written_size}{''.join(mods)}", oh, ow

    def block(self, h: int, w: int, c: int, first: bool, pools: bool) -> tuple[list[str], int, int, int] | None:
        """A residual block ``[ … ]+X`` whose shortcut fits (identity or a 1x1 projection);
        with pools inside only when ``pools`` (a pool is a pooling item: E122 beside ``p0``)."""
        r = self.rng
        for _ in range(6):
            feats: set[str] = set()
            items: list[str] = []
            bh, bw, bc, stride = h, w, c, 1
            has_conv = own = False
            for _ in range(r.randint(1, 4)):
                x = r.random()
                if x < 0.15:
                    items.append(self.dropout())
                    feats.add("v2_block_dropout")
                    own = False
                elif x < 0.3:
                    items.append(self.bare("conv", own))
                    feats.add("v2_block_bare")
                elif x < 0.45 and pools:
                    got = self.pool(bh, bw, in_block=True)
                    if got is None:
                        continue
                    items.append(got[0])
                    bh, bw = got[1], got[2]
                    stride *= _pool_stride(got[0])
                    feats.add("v2_block_pool")
                    if "z" not in got[0]:
                        feats.add("v2_pool_valid_in_block")
                    own = False
                else:
                    depthwise = r.random() < 0.25
                    filters = bc if r.random() < 0.5 else r.choice(FILTERS)
                    got = self.conv(filters, bh, bw, 1, depthwise=depthwise)
                    if got is None:
                        continue
                    token = got[0]
                    if depthwise:
                        feats.add("v2_block_dw")
                    else:
                        bc = filters
                        if "sep" in token:
                            feats.add("v2_block_sep")
                        if self.allow_variants and r.random() < 0.2:
                            other = r.choice([f for f in FILTERS if f != filters])
                            token = "{" + f"{filters},{other}" + "}" + token[len(str(filters)) :]
                            feats.add("v2_block_in_variants")
                            self.has_variants = True
                    if "v" in token.replace("dw", "").replace("sep", ""):
                        feats.add("v2_block_valid_conv")
                    items.append(token)
                    stride *= _conv_stride(token)
                    bh, bw = got[1], got[2]
                    has_conv, own = True, True
            if not has_conv:
                continue
            if (bh, bw, bc) == (h, w, c):
                feats.add("v2_block_identity")
            elif (bh, bw) == (-(-h // stride), -(-w // stride)):
                feats.add("v2_block_stride_projection" if stride > 1 else "v2_block_projection")
            else:
                continue  # E406: no shortcut fits; draw another block
            letter = r.choice(["", "", "R", "R", "E", "T", "G", "I"])
            feats.add("v2_block_act" if letter not in ("", "I") else ("v2_block_I" if letter else "v2_block_plain"))
            close = "]+" + letter
            if r.random() < 0.5:
                items[-1] += close
                feats.add("v2_block_close_glued")
            else:
                items.append(close)
            if r.random() < 0.5:
                items[0] = "[" + items[0]
                feats.add("v2_block_open_glued")
            else:
                items.insert(0, "[")
            if first:
                feats.add("v2_block_first")
            self.features |= feats
            return items, bh, bw, bc
        return None

    def conv_section(self, shape: tuple[int, int, int]) -> tuple[list[str], tuple[int, ...]]:
        r = self.rng
        mode = r.choice(["implied"] * 4 + ["written"] * 3 + ["p0"])
        n = r.randint(1, 7)
        h, w, c = shape
        items: list[str] = []
        if mode == "implied":
            self.features.add("pools_implied")
            open_group: int | None = None  # filters of an unclosed group
            own = False  # a bare item now would be the last layer's own (NOTATION.md, "Groups, amended")
            for _ in range(n):
                x = r.random()
                if x < 0.25:
                    if open_group is not None:
                        h, w, open_group = h // 2, w // 2, None
                    items.append(self.dropout())
                    own = False
                    continue
                if self.v2 and x < 0.4:
                    items.append(self.bare("conv", own))
                    if own and open_group is not None:
                        self.features.add("v2_own_bare_in_group")
                    elif not own:
                        self.features.add("v2_bare_ends_nothing")
                    elif open_group is None:
                        self.features.add("v2_dw_own_bare")
                    continue
                if self.v2 and x < 0.5:
                    # dw is in no group: it ends the one before it, and no pool follows it
                    ch, cw = (h // 2, w // 2) if open_group is not None else (h, w)
                    got = self.conv(c, ch, cw, 1, depthwise=True)
                    if got is None:
                        continue
                    items.append(got[0])
                    h, w, open_group, own = got[1], got[2], None, True
                    self.features.add("v2_implied_dw")
                    continue
                filters = open_group if open_group is not None and r.random() < 0.5 else r.choice(FILTERS)
                ch, cw = (h // 2, w // 2) if open_group is not None and filters != open_group else (h, w)
                # Every conv leaves at least 2x2, so its group's pool fits.
                got = self.conv(filters, ch, cw, 2)
                if got is None:
                    continue
                items.append(got[0])
                h, w, c = got[1], got[2], filters
                open_group, own = filters, True
            if open_group is not None:
                h, w = h // 2, w // 2
            if not items:
                items.append(self.dropout())
            return items, (h, w, c)

        pooled = blocks = False
        own = False
        between = [0]  # where p0 may go: between the section's items, never inside a block
        for _ in range(n):
            between.append(len(items))
            x = r.random()
            if x < 0.2:
                items.append(self.dropout())
                own = False
            elif self.v2 and x < 0.3:
                items.append(self.bare("conv", own))
            elif self.v2 and x < 0.45:
                got_block = self.block(h, w, c, first=not items, pools=mode != "p0")
                if got_block is None:
                    continue
                items.extend(got_block[0])
                h, w, c = got_block[1:]
                blocks, own = True, False
            elif x < 0.6 and mode == "written":
                got = self.pool(h, w)
                if got is None:
                    continue
                items.append(got[0])
                h, w = got[1], got[2]
                pooled, own = True, False
            else:
                depthwise = self.v2 and r.random() < 0.15
                filters = c if depthwise else r.choice(FILTERS)
                got = self.conv(filters, h, w, 1, depthwise=depthwise)
                if got is None:
                    continue
                items.append(got[0])
                h, w, c = got[1], got[2], filters
                own = True
        if mode == "p0":
            self.features.add("p0")
            if blocks:
                self.features.add("v2_block_p0")
            between.append(len(items))
            items.insert(r.choice(between), "p0")
            return items, (h, w, c)
        self.features.add("pools_written")
        if blocks and not pooled and r.random() < 0.5:
            self.features.add("v2_block_note")  # no pooling item: the block turned implied pools off
            return items, (h, w, c)
        if r.random() < 0.35 or not pooled:
            if not pooled and h >= 2 and w >= 2 and r.random() < 0.5:
                items.append("p")
                self.features.add("pool_p")
                return items, (h // 2, w // 2, c)
            g = r.choice(["gap", "gmp"])
            self.features.add(g)
            items.append(g)
            items.extend(self.dropout() for _ in range(r.choice([0, 0, 1, 2])))
            return items, (c,)
        return items, (h, w, c)

    # -- D:, O:, A:, I: -----------------------------------------------------

    def dense_section(self) -> list[str]:
        r = self.rng
        items: list[str] = []
        for _ in range(r.randint(1, 4)):
            x = r.random()
            if x < 0.3:
                items.append(self.dropout())
                continue
            if self.v2 and x < 0.42:
                items.append(self.bare("dense", True))
                continue
            mods: dict[str, str] = {}
            self.norm_and_activation(mods, "dense")
            if "n" in mods:
                self.features.add("dense_n")
            order = list(mods.values())
            r.shuffle(order)
            items.append(str(r.randint(1, 32)) + "".join(order))
        return items

    def head(self) -> str:
        r = self.rng
        classes = 1 if r.random() < 0.25 else r.randint(2, 12)
        if classes == 1:
            self.features.add("head_1")
        mods = []
        if r.random() < 0.3:
            mods.append(self.activation("head", "IS" if classes == 1 else "I"))
        if r.random() < 0.2:
            mods.append(self.l2("head"))
        r.shuffle(mods)
        return str(classes) + "".join(mods)

    def augment_section(self) -> list[str]:
        r = self.rng
        names = r.sample(list(AUGMENT_LIMITS), r.randint(1, 4))
        items = []
        for name in names:
            self.features.add(f"aug_{name}")
            limit = AUGMENT_LIMITS[name]
            if limit is None:
                items.append(name)
                continue
            value = r.choice([0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0])
            value = min(value, limit)
            text = "1" if value == 1 else r.choice([f"{value:g}", f"{value:g}".removeprefix("0")])
            items.append(name + text)
        return items

    def input_shape(self) -> tuple[int, int, int]:
        r = self.rng
        side = r.choice([1, 2, 3, 5, 7, 8, 12, 16, 24, 28, 32, 48, 64])
        side = min(side, self.max_side)
        other = side if r.random() < 0.6 else r.randint(1, self.max_side)
        return side, other, r.choice([1, 1, 2, 3, 3, 4])

    # -- the whole spec -----------------------------------------------------

    def spec(self) -> tuple[list[list[str]], tuple[int, int, int] | None, int | None]:
        """Sections as lists of tokens (header first), plus what to give apart."""
        r = self.rng
        shape = self.input_shape()
        sections: list[list[str]] = []
        given_shape: tuple[int, int, int] | None = None
        if r.random() < 0.85:
            sections.append(["I:", "x".join(map(str, shape))])
            self.features.add("input_written")
        else:
            given_shape = shape
            self.features.add("input_given")
        if r.random() < 0.2:
            sections.append(["A:", *self.augment_section()])
            self.features.add("augment")
        has_conv, has_dense = r.choice([(True, True), (True, True), (True, False), (False, True)])
        if has_conv:
            items, _ = self.conv_section(shape)
            sections.append(["C:", *items])
        else:
            self.features.add("no_conv")
        if has_dense:
            sections.append(["D:", *self.dense_section()])
        else:
            self.features.add("no_dense")
        classes: int | None = None
        if r.random() < 0.8:
            sections.append(["O:", self.head()])
            self.features.add("head_written")
        else:
            classes = r.randint(1, 10)
            self.features.add("head_given")
        return sections, given_shape, classes

    def layout(self, sections: list[list[str]], indent: str = "") -> str:
        """Lay tokens out on one or several lines, with comments and tabs."""
        r = self.rng
        multiline = r.random() < 0.3
        out: list[str] = []
        for sec in sections:
            header, items = sec[0], sec[1:]
            words = [header + items[0] if r.random() < 0.15 else f"{header} {items[0]}", *items[1:]]
            if words[0].startswith(header) and not words[0].startswith(header + " "):
                self.features.add("header_touching")
            for word in words:
                sep = " "
                if out:
                    x = r.random()
                    if multiline and x < 0.25:
                        if r.random() < 0.3:
                            sep = "  # a comment: C: 16 d5\n" + indent
                            self.features.add("comment")
                        else:
                            sep = "\n" + indent + r.choice(["", "  ", "\t"])
                        self.features.add("multiline")
                    elif x < 0.05:
                        sep = "\t"
                        self.features.add("tab")
                    elif x < 0.1:
                        sep = "   "
                out.append(sep + word if out else word)
        text = "".join(out)
        if r.random() < 0.1:
            text = "# leading comment\n" + indent + text
            self.features.update({"comment", "multiline"})
        if r.random() < 0.1:
            text += "  # trailing comment"
            self.features.add("comment")
        return text


def random_spec(seed: int | random.Random, *, max_side: int = 64, variants: bool = False) -> Generated:
    """One random valid spec, determined by ``seed``; ``variants``: it may hold braces
    (inside residual blocks), and every spec it expands to is valid."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    gen = _Gen(rng, max_side, variants)
    sections, shape, classes = gen.spec()
    return Generated(gen.layout(sections), shape, classes, gen.features, gen.has_variants)


def random_specs(n: int, seed: int = 0, *, max_side: int = 64, variants: bool = False) -> list[Generated]:
    """``n`` random valid specs from one seed (spec ``i`` is seeded ``seed, i``)."""
    return [random_spec(random.Random(f"{seed}:{i}"), max_side=max_side, variants=variants) for i in range(n)]


def random_file(seed: int | random.Random, n: int = 3, *, max_side: int = 64) -> tuple[str, list[Generated]]:
    """A named multi-spec file of ``n`` specs (some spanning several lines).

    Returns the file text and, per spec, its :class:`Generated` with
    ``text`` set to the spec's own text (without ``name =``).
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    lines: list[str] = []
    out: list[Generated] = []
    names: set[str] = set()
    if rng.random() < 0.3:
        lines.append("# the experiment table")
    for i in range(n):
        name = rng.choice(["m", "net_", "M", "_x", "model.v"]) + str(i) + rng.choice(["", "-a", ".b"])
        names.add(name)
        gen = _Gen(rng, max_side)
        sections, shape, classes = gen.spec()
        indent = rng.choice(["  ", "      ", "\t"])
        text = gen.layout(sections, indent)
        # A leading comment line would start the spec text before the name.
        text = text.removeprefix("# leading comment\n" + indent)
        sep = rng.choice([" = ", "=", " =\n" + indent])
        lines.append(f"{name}{sep}{text}")
        if rng.random() < 0.2:
            lines.append("")
        out.append(Generated(text, shape, classes, gen.features))
    assert len(names) == n
    return "\n".join(lines) + "\n", out


def _conv_stride(token: str) -> int:
    """The stride written in a convolution token (``16s2v`` -> 2), 1 when none."""
    import re

    m = re.search(r"s(\d+)", token.replace("sep", ""))
    return int(m.group(1)) if m else 1


def _pool_stride(token: str) -> int:
    """The stride of a pool token: written (``p3s2``), else its size (``p3``, ``pz``: 2)."""
    import re

    m = re.fullmatch(r"a?p(\d*)(?:s(\d+))?z?(?:s(\d+))?", token)
    assert m, token
    return int(m.group(2) or m.group(3) or m.group(1) or 2)


__all__ = ["ALL_FEATURES", "Generated", "random_file", "random_spec", "random_specs"]
