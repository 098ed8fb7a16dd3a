// The TextMate grammar, tokenized by VS Code's own engine (vscode-textmate + Oniguruma):
//   cd editors/vscode && npm install && npm test
"use strict";

const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const test = require("node:test");
const oniguruma = require("vscode-oniguruma");
const textmate = require("vscode-textmate");

async function grammar() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      textmate.parseRawGrammar(
        fs.readFileSync(path.join(__dirname, "..", "syntaxes", "cnn.tmLanguage.json"), "utf8"),
        "cnn.tmLanguage.json"
      ),
  });
  return registry.loadGrammar("source.cnn");
}

function tokens(g, line) {
  const { tokens: found } = g.tokenizeLine(line, textmate.INITIAL);
  return found
    .map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]])
    .filter(([text]) => text.trim());
}

test("a named spec with every kind of item", async () => {
  const g = await grammar();
  const got = tokens(g, "m26 = I: 32x32x3 A: flip rot.1 C: 16n 16k5s2 p3 d¼ gap D: 16R O: 10  # note");
  assert.deepStrictEqual(got, [
    ["m26", "entity.name.function.spec.cnn"],
    ["=", "keyword.operator.assignment.cnn"],
    ["I:", "keyword.control.section.cnn"],
    ["32x32x3", "constant.numeric.shape.cnn"],
    ["A:", "keyword.control.section.cnn"],
    ["flip", "support.function.augmentation.cnn"],
    ["rot", "support.function.augmentation.cnn"],
    [".1", "constant.numeric.factor.cnn"],
    ["C:", "keyword.control.section.cnn"],
    ["16", "constant.numeric.count.cnn"],
    ["n", "storage.modifier.cnn"],
    ["16", "constant.numeric.count.cnn"],
    ["k5s2", "storage.modifier.cnn"],
    ["p3", "keyword.other.pool.cnn"],
    ["d", "keyword.other.dropout.cnn"],
    ["¼", "constant.numeric.rate.cnn"],
    ["gap", "keyword.other.pool.cnn"],
    ["D:", "keyword.control.section.cnn"],
    ["16", "constant.numeric.count.cnn"],
    ["R", "storage.modifier.cnn"],
    ["O:", "keyword.control.section.cnn"],
    ["10", "constant.numeric.count.cnn"],
    ["# note", "comment.line.number-sign.cnn"],
  ]);
});

test("mistakes are marked, variants and blocks are punctuation", async () => {
  const g = await grammar();
  assert.deepStrictEqual(tokens(g, "c: 16q"), [
    ["c:", "invalid.illegal.section.cnn"],
    ["16q", "invalid.illegal.item.cnn"],
  ]);
  assert.deepStrictEqual(tokens(g, "C: [64b 64In]+R"), [
    ["C:", "keyword.control.section.cnn"],
    ["[", "punctuation.section.block.cnn"],
    ["64", "constant.numeric.count.cnn"],
    ["b", "storage.modifier.cnn"],
    ["64", "constant.numeric.count.cnn"],
    ["In", "storage.modifier.cnn"],
    ["]+R", "punctuation.section.block.cnn"],
  ]);
  assert.deepStrictEqual(tokens(g, "C: {16,32}"), [
    ["C:", "keyword.control.section.cnn"],
    ["{", "punctuation.section.braces.cnn"],
    ["16", "constant.numeric.count.cnn"],
    [",", "punctuation.section.braces.cnn"],
    ["32", "constant.numeric.count.cnn"],
    ["}", "punctuation.section.braces.cnn"],
  ]);
});
