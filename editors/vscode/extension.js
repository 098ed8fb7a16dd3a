// The cnnspec extension: starts `cnnspec lsp` for .cnn files and the ```cnn blocks of Markdown.
// Everything the editor shows (diagnostics, hover, inlay hints, formatting, completion, quick
// fixes) comes from the server; this file only starts it and passes the settings on.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function settings() {
  const config = vscode.workspace.getConfiguration("cnnspec");
  return {
    inlayHints: {
      shapes: config.get("inlayHints.shapes", true),
      params: config.get("inlayHints.params", true),
    },
  };
}

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("cnnspec").get("command", ["cnnspec", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "cnnspec",
    "cnnspec",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "cnn" },
        { scheme: "untitled", language: "cnn" },
        { scheme: "file", language: "markdown" },
      ],
      initializationOptions: settings(),
    }
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("cnnspec") && client) {
        client.sendNotification("workspace/didChangeConfiguration", { settings: { cnnspec: settings() } });
      }
    })
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
