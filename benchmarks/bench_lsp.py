"""How fast does ``cnnspec lsp`` answer?  Prints the figures issue 13 asks for.

    python benchmarks/bench_lsp.py [--edits 60] [--starts 5]

The server runs as editors run it (``python -m cnnspec lsp``, a subprocess on stdio) and a
bare JSON-RPC client times, from the moment it writes a ``didChange`` to the moment it has
read and parsed the ``publishDiagnostics`` of that version:

1. a 50-spec file, one character changed inside one spec per edit, warm (target <= 20 ms);
   and, for the record, an edit that inserts a line (every spec below it moves, so its
   cached check is not reused);
2. one spec of 1,000 layers, one token changed per edit, warm (target <= 50 ms);
3. start-up: a fresh process until ``initialize`` is answered, and until the first
   diagnostics of an opened file arrive (median of ``--starts`` processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

SERVER = [sys.executable, "-m", "cnnspec", "lsp"]
ROW = "I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"
FIFTY = "".join(f"# experiment {i}\nm{i} = {ROW}\n" for i in range(50))
BIG = "I: 64x64x3 C: " + " ".join(["16"] * 600 + ["p0"]) + "\n  D: " + " ".join(["16R"] * 400) + " O: 10\n"
WARMUP = 5


class Client:
    """A bare JSON-RPC client: framing and ``json`` only, so the times are the server's and the
    pipe's, not a client library's (an editor parses JSON in native code)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.cpu_per_edit = float("nan")

    @classmethod
    async def start(cls) -> tuple[Client, float]:
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *SERVER, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        client = cls(proc)
        await client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        client.notify("initialized", {})
        return client, time.perf_counter() - t0

    def notify(self, method: str, params: object) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: object) -> object:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            msg = await self._read()
            if msg.get("id") == self.next_id and "method" not in msg:
                return msg.get("result")

    async def diagnostics(self, uri: str, version: int) -> float:
        """Wait for the diagnostics of ``uri`` at ``version``; the time they arrived."""
        while True:
            msg = await self._read()
            params = msg.get("params") or {}
            if msg.get("method") == "textDocument/publishDiagnostics" and params.get("uri") == uri:
                if params.get("version") == version:
                    return time.perf_counter()

    async def stop(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        await self.proc.wait()

    def _send(self, msg: dict[str, object]) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        length = 0
        while (line := await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(await self.proc.stdout.readexactly(length))


def _range(line: int, start: int, end: int) -> dict[str, object]:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def _cpu(pid: int) -> float:
    """The server's CPU seconds so far (user + system; Linux)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _latencies(client: Client, uri: str, edits: list[tuple[dict[str, object], str]], first: int) -> list[float]:
    """Each edit's latency after the warm-up; also prints the server's mean CPU time per edit,
    which a busy machine does not inflate (on a shared machine the wall time waits for a core)."""
    out = []
    cpu = 0.0
    for k, (where, new) in enumerate(edits):
        version = first + k
        if k == WARMUP:
            cpu = _cpu(client.proc.pid)
        t0 = time.perf_counter()
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": where, "text": new}]},
        )
        out.append(await client.diagnostics(uri, version) - t0)
    client.cpu_per_edit = (_cpu(client.proc.pid) - cpu) / max(len(edits) - WARMUP, 1)
    return out[WARMUP:]


async def _open(client: Client, uri: str, text: str) -> None:
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cnn", "version": 1, "text": text}}
    )
    await client.diagnostics(uri, 1)


def _report(label: str, times: list[float], target: float | None = None, cpu: float | None = None) -> None:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    verdict = "" if target is None else ("  ok" if statistics.median(ms) <= target else f"  OVER {target:g} ms")
    line = f"{label:<40} median {statistics.median(ms):6.1f} ms  p90 {p90:6.1f} ms  (n={len(ms)})"
    if cpu is not None:
        line += f"  server CPU {cpu * 1000:5.1f} ms/edit"
    print(line + verdict)


async def main(edits: int, starts: int) -> None:
    client, _ = await Client.start()
    # 1. The 50-spec file: a digit of spec k's 'I: 32x32x3' changes, k = 0, 1, ..., 49, 0, ...
    fifty = "file:///bench/fifty.cnn"
    await _open(client, fifty, FIFTY)

    def digit(i: int) -> int:  # the 2 of the first 32 in spec i's line
        return len(f"m{i} = I: 3")

    one_char = [(_range(2 * (k % 50) + 1, digit(k % 50), digit(k % 50) + 1), "46"[k // 50 % 2]) for k in range(edits)]
    _report("50-spec file, one character", await _latencies(client, fifty, one_char, 2), 20, client.cpu_per_edit)
    lines = [(_range(0, 0, 0), "\n") for _ in range(edits // 3 + WARMUP)]
    took = await _latencies(client, fifty, lines, 2 + edits)
    _report("50-spec file, a new line at the top", took, None, client.cpu_per_edit)
    # 2. The 1,000-layer spec: a conv's 16 becomes 10, 11, ..., 99, then the next conv's: every
    # text is new, so no edit is answered from the cache.
    big = "file:///bench/big.cnn"
    await _open(client, big, BIG)

    def conv(k: int) -> int:  # the column of the conv that edit k changes
        return len("I: 64x64x3 C: ") + 3 * (300 + k // 90)

    token = [(_range(0, conv(k), conv(k) + 2), str(10 + k % 90)) for k in range(edits)]
    _report("1,000-layer spec, one token", await _latencies(client, big, token, 2), 50, client.cpu_per_edit)
    await client.stop()
    # 3. Start-up, fresh processes.
    ready, first = [], []
    for _ in range(starts):
        client, took = await Client.start()
        t0 = time.perf_counter()
        await _open(client, "file:///bench/one.cnn", ROW + "\n")
        ready.append(took)
        first.append(took + time.perf_counter() - t0)
        await client.stop()
    _report("start-up: until initialize is answered", ready)
    _report("start-up: until a file's first diagnostics", first)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(f"didChange -> publishDiagnostics, warm; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    asyncio.run(main(args.edits, args.starts))
