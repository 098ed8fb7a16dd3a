-- cnnspec in Neovim's built-in LSP client.  Put this file in ~/.config/nvim/plugin/ (or
-- require it from init.lua).  Neovim >= 0.8 has vim.lsp.start; 0.7 only vim.lsp.start_client,
-- so both are handled.
if vim.filetype and vim.filetype.add then
  vim.filetype.add({ extension = { cnn = "cnn" } })
end
vim.cmd("autocmd BufRead,BufNewFile *.cnn setfiletype cnn")  -- Neovim 0.7 reads filetype.vim by default

local function start()
  local config = {
    name = "cnnspec",
    cmd = { "cnnspec", "lsp" },
    root_dir = vim.fn.getcwd(),
    init_options = { inlayHints = { shapes = true, params = true } },
  }
  if vim.lsp.start then
    vim.lsp.start(config)
  else
    local id = vim.lsp.start_client(config)
    if id then
      vim.lsp.buf_attach_client(0, id)
    end
  end
end

vim.api.nvim_create_autocmd("FileType", { pattern = { "cnn", "markdown" }, callback = start })
