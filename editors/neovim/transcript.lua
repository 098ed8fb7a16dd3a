-- Drives the real server from a headless Neovim and prints what the editor receives:
--   nvim --headless -u NONE -c "luafile editors/neovim/transcript.lua" FILE
-- (used for the transcript in docs/editors.md).
vim.cmd("luafile " .. vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/cnnspec.lua")
vim.cmd("filetype on")
vim.cmd("edit")  -- the FileType autocmd starts the server

local function wait_for(what, check)
  if not vim.wait(20000, check, 50) then
    print("timed out waiting for " .. what)
    vim.cmd("cquit 1")
  end
end

local buf = vim.api.nvim_get_current_buf()
wait_for("diagnostics", function() return #vim.diagnostic.get(buf) > 0 end)
print("== diagnostics (0-based line:col, as vim.diagnostic holds them)")
for _, d in ipairs(vim.diagnostic.get(buf)) do
  print(string.format("%d:%d-%d %s [%s] %s", d.lnum, d.col, d.end_col, d.severity == 1 and "error" or "warning",
    d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) or "?", d.message:gsub("\n", " | ")))
end

local client = vim.lsp.get_active_clients()[1]
local function request(method, params)
  local reply = client.request_sync(method, params, 10000, buf)
  return reply and reply.result
end
local doc = { uri = vim.uri_from_bufnr(buf) }

for _, at in ipairs({ 16, 26 }) do
  print(string.format("== hover on line 2, column %d", at + 1))
  local hover = request("textDocument/hover", { textDocument = doc, position = { line = 1, character = at } })
  print(hover and hover.contents.value or "(none)")
end

print("== inlay hints of line 2")
local hints = request("textDocument/inlayHint", {
  textDocument = doc, range = { start = { line = 1, character = 0 }, ["end"] = { line = 1, character = 200 } },
}) or {}
for _, h in ipairs(hints) do
  print(string.format("after %d:%d  %s", h.position.line, h.position.character, h.label))
end

print("== code actions on line 1")
local actions = request("textDocument/codeAction", {
  textDocument = doc,
  range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
  context = { diagnostics = {} },
}) or {}
for _, a in ipairs(actions) do print(a.title) end

print("== range formatting of line 2 (m1 holds errors, m2 is formatted alone)")
local edits = request("textDocument/rangeFormatting", {
  textDocument = doc,
  range = { start = { line = 1, character = 0 }, ["end"] = { line = 1, character = 0 } },
  options = { tabSize = 4, insertSpaces = true },
})
if edits and #edits > 0 then
  vim.lsp.util.apply_text_edits(edits, buf, "utf-16")
end
print(table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"))
vim.cmd("qall!")
