-- Drives `slipway lsp` from headless Neovim (0.7+) as an editor would, and writes what the
-- server answered to $SLIPWAY_LSP_OUT as JSON; server/tests/lsp.rs checks it.
-- Positions are found by searching the buffer, columns converted to UTF-16 as LSP counts.
local bin, dir, out = os.getenv("SLIPWAY_LSP_BIN"), os.getenv("SLIPWAY_LSP_PROJECT"), os.getenv("SLIPWAY_LSP_OUT")
local results, diags, logs = {}, {}, {}

local function finish()
  results.logs = logs
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  local id = vim.lsp.start_client({
    cmd = { bin, "lsp", "--tag", "master" },
    root_dir = dir,
    handlers = {
      ["textDocument/publishDiagnostics"] = function(_, r)
        diags[r.uri] = r.diagnostics
      end,
      ["window/logMessage"] = function(_, r)
        table.insert(logs, r.message)
      end,
    },
  })
  assert(id, "the client did not start")
  local client = vim.lsp.get_client_by_id(id)
  -- Attach after the handshake: Neovim 0.7 sends no didOpen for buffers attached before it.
  assert(vim.wait(10000, function() return client.initialized end, 10), "no initialize response")

  local function open(name)
    vim.cmd("edit " .. dir .. "/" .. name)
    local buf = vim.api.nvim_get_current_buf()
    vim.lsp.buf_attach_client(buf, id)
    return buf, vim.uri_from_bufnr(buf)
  end
  -- The 0-based line and UTF-16 column of the `nth` match of `needle` (plain text) in `buf`, plus `shift` bytes.
  local function pos(buf, needle, nth, shift)
    local seen = 0
    for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
      local from = 1
      while true do
        local s = line:find(needle, from, true)
        if not s then break end
        seen = seen + 1
        if seen == (nth or 1) then
          local col16 = select(2, vim.str_utfindex(line, s - 1 + (shift or 0)))
          return { line = i - 1, character = col16 }
        end
        from = s + 1
      end
    end
    error("not found: " .. needle)
  end
  local function request(method, buf, position, extra)
    local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = position }
    for k, v in pairs(extra or {}) do params[k] = v end
    local resp, e = client.request_sync(method, params, 10000, buf)
    assert(resp, method .. " failed: " .. tostring(e))
    return resp
  end
  local function wait_diags(uri, pred)
    vim.wait(10000, function() return diags[uri] ~= nil and (pred == nil or pred(diags[uri])) end, 10)
    return diags[uri]
  end

  local steps, steps_uri = open("codeship-steps.yml")
  results.steps_uri = steps_uri
  results.opened = wait_diags(steps_uri)
  -- Nonsense parameters get an error answer; everything after shows the server lived on.
  results.bad_params = client.request_sync("textDocument/hover",
    { textDocument = { uri = steps_uri }, position = "nonsense" }, 10000, steps)

  -- Incremental change: a new step typed at the end, then completion after `service: `.
  local n = vim.api.nvim_buf_line_count(steps)
  vim.api.nvim_buf_set_lines(steps, n, n, false, { "- name: new", "  service: " })
  results.completion = request("textDocument/completion", steps, { line = n + 1, character = 11 })

  results.hover_service = request("textDocument/hover", steps, pos(steps, "service: app", 1, 10))
  results.hover_key = request("textDocument/hover", steps, pos(steps, "image_tag", 1, 2))
  results.definition = request("textDocument/definition", steps, pos(steps, "service: app", 1, 10))
  results.references = request("textDocument/references", steps, pos(steps, "service: app", 1, 10),
    { context = { includeDeclaration = true } })
  results.code_actions = request("textDocument/codeAction", steps, pos(steps, "service: ap,", 1, 10), {
    position = nil,
    range = { start = pos(steps, "service: ap,", 1, 9), ["end"] = pos(steps, "service: ap,", 1, 11) },
    context = { diagnostics = diags[steps_uri] or {} },
  })
  results.symbols = request("textDocument/documentSymbol", steps, nil, { position = nil })

  -- Rename `app` from the steps file; the services file is not open: the edit names it by URI.
  local rename = request("textDocument/rename", steps, pos(steps, "service: app", 1, 11), { newName = "web" })
  results.rename = rename
  if rename.result then
    vim.lsp.util.apply_workspace_edit(rename.result, "utf-16")
  end
  vim.cmd("silent! wall")

  -- Re-check across files: defining `ap` in the services buffer clears the steps error.
  local services, services_uri = open("codeship-services.yml")
  results.services_uri = services_uri
  -- UTF-16 in a request: `.Branch` after `Prüfung 😀` on the same line.
  results.hover_utf16 = request("textDocument/hover", services, pos(services, ".Branch", 1, 1))
  vim.api.nvim_buf_set_lines(services, 0, 0, false, { "ap:", "  image: busybox" })
  results.after_services_change = wait_diags(steps_uri, function(d)
    for _, x in ipairs(d) do if x.code == "SW102" then return false end end
    return true
  end)
  finish()
end)
if not ok then
  results.error = tostring(err)
  finish()
end
