#!/usr/bin/env python3
"""Drives a headless Chromium through the DevTools protocol for the
dashboard's browser tests (Tests/TumultControllerTests/DashboardBrowserTests.swift).

Standard library only: a minimal WebSocket client (RFC 6455, client side:
masked frames, fragmentation, ping/pong) over a plain socket.

    cdp.py PORT STEPS_JSON

PORT is Chromium's remote debugging port; STEPS_JSON a JSON array of steps,
run in order on the first page target:

    {"navigate": URL}                      load URL, wait for document.readyState == complete
    {"eval": JS}                           evaluate an expression (promises awaited); its value is the result
    {"wait": JS, "timeout": ms}            evaluate until truthy (as JavaScript sees it); result {"value", "elapsed_ms"}
    {"screenshot": PATH}                   full-page PNG
    {"insert_text": TEXT}                  type into the focused element (Input.insertText)

Prints one JSON object: {"ok": true, "results": [...], "console": [...]} or
{"ok": false, "error": "...", "step": i, "results": [...], "console": [...]}.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.request


class WebSocket:
    def __init__(self, url, timeout=30):
        assert url.startswith("ws://"), url
        rest = url[len("ws://"):]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0]
        if b" 101 " not in status:
            raise ConnectionError(f"WebSocket handshake refused: {status.decode(errors='replace')}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if accept not in head:
            raise ConnectionError("WebSocket handshake: wrong Sec-WebSocket-Accept")

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(max(65536, count - len(self.buffer)))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def receive(self):
        """The next text message (fragments joined; pings answered)."""
        message = b""
        while True:
            first, second = self._read(2)
            fin, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            message += payload
            if fin:
                return message.decode()

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Page:
    def __init__(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        pages = [target for target in targets if target.get("type") == "page"]
        if not pages:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
            with urllib.request.urlopen(request, timeout=10) as answer:
                pages = [json.load(answer)]
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.console = []
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method, params=None):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.console.append({"type": "exception", "text": text})
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            self.console.append({"type": params["type"], "text": text})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True, "userGesture": True,
        })
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"JavaScript threw: {text}")
        return result.get("result", {}).get("value")

    def wait(self, expression, timeout_ms):
        start = time.monotonic()
        last_error = None
        # JavaScript's truthiness, not Python's: an element comes back as {}.
        probe = f"(async () => {{ const v = await ({expression}); return v ? [v instanceof Node ? true : v] : null; }})()"
        while True:
            try:
                value = self.evaluate(probe)
                if value:
                    return {"value": value[0], "elapsed_ms": round((time.monotonic() - start) * 1000, 1)}
            except RuntimeError as error:
                last_error = str(error)
            if (time.monotonic() - start) * 1000 > timeout_ms:
                suffix = f" (last error: {last_error})" if last_error else ""
                raise TimeoutError(f"timed out after {timeout_ms} ms waiting for: {expression}{suffix}")
            time.sleep(0.025)

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})
        return self.wait("document.readyState === 'complete' && location.href", 15000)

    def screenshot(self, path):
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize")
        width = max(1, int(size["width"]))
        height = max(1, min(int(size["height"]), 4000))
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        })
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as file:
            file.write(base64.b64decode(shot["data"]))
        return {"path": path, "width": width, "height": height}


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    port, steps = int(sys.argv[1]), json.loads(sys.argv[2])
    results = []
    page = None
    try:
        page = Page(port)
        for index, step in enumerate(steps):
            try:
                if "navigate" in step:
                    results.append(page.navigate(step["navigate"]))
                elif "eval" in step:
                    results.append(page.evaluate(step["eval"]))
                elif "wait" in step:
                    results.append(page.wait(step["wait"], step.get("timeout", 10000)))
                elif "screenshot" in step:
                    results.append(page.screenshot(step["screenshot"]))
                elif "insert_text" in step:
                    results.append(page.call("Input.insertText", {"text": step["insert_text"]}))
                else:
                    raise ValueError(f"unknown step {step}")
            except Exception as error:  # reported to the test as JSON, with what ran before
                print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}", "step": index,
                                  "results": results, "console": page.console}))
                return 1
        print(json.dumps({"ok": True, "results": results, "console": page.console}))
        return 0
    except Exception as error:
        print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}", "step": -1, "results": results,
                          "console": page.console if page else []}))
        return 1
    finally:
        if page:
            page.ws.close()


if __name__ == "__main__":
    sys.exit(main())
