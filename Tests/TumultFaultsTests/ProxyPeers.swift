/// The server and client of the proxy tests, as a Python script written
/// to a temporary file (`ProxyTestbed`).
enum ProxyPeers {
    static let source = #"""
    """The server and the client of Tumult's proxy tests (ProxyTestbed.swift).

    server: python3 ProxyPeers.py server HTTP_PORT TCP_PORT
      HTTP/1.1 (keep-alive) on HTTP_PORT with fixed Date/Server headers, so that
      responses are byte-for-byte repeatable; a line-driven TCP server on TCP_PORT.
    client: python3 ProxyPeers.py MODE ARGS... prints one JSON object.
    """
    import json, socket, sys, threading, time
    from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler


    def pattern(n):
        return bytes(i % 251 for i in range(n))


    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def date_time_string(self, timestamp=None):
            return "Thu, 01 Jan 2026 00:00:00 GMT"

        def version_string(self):
            return "tmt-test"

        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype="application/json", extra=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def describe(self, body=b""):
            return json.dumps({"method": self.command, "path": self.path, "status": "ok", "nested": {"a": 1},
                               "headers": {k.lower(): v for k, v in self.headers.items()},
                               "body": body.decode("latin-1")}, sort_keys=True).encode()

        def do_GET(self):
            if self.path == "/health":
                return self.reply(200, b"ok", "text/plain")
            if self.path == "/chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                for part in [b"alpha ", b"beta ", b"gamma" * 300]:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                    time.sleep(0.005)
                self.wfile.write(b"0\r\n\r\n")
                return
            self.reply(200, self.describe(), extra=[("X-Origin", "b")])

        do_HEAD = do_GET
        do_DELETE = do_GET

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.reply(200, self.describe(self.rfile.read(length)), extra=[("X-Origin", "b")])

        do_PUT = do_POST


    def tcp_session(conn):
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = conn.recv(1)
                if not chunk:
                    return
                line += chunk
            words = line.decode().split()
            if words[0] == "ECHO":
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
            elif words[0] == "SOURCE":  # n bytes, then wait for the client to close
                n = int(words[1])
                sent = 0
                block = pattern(65536 - 65536 % 251)
                while sent < n:
                    piece = block[: min(len(block), n - sent)]
                    conn.sendall(piece)
                    sent += len(piece)
                while conn.recv(65536):
                    pass
            elif words[0] == "BLOB":  # n bytes in one write, then wait
                conn.sendall(pattern(int(words[1])))
                while conn.recv(65536):
                    pass
            elif words[0] == "CLOSE":  # a few bytes, then close at once
                conn.sendall(b"bye")
        except OSError:
            pass
        finally:
            conn.close()


    def serve_tcp(port):
        # IPv4 and IPv6 on one socket.
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", port))
        listener.listen(128)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=tcp_session, args=(conn,), daemon=True).start()


    def connect(host, port, line=None):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if line:
            s.sendall(line.encode() + b"\n")
        return s


    def main():
        mode = sys.argv[1]
        if mode == "server":
            ThreadingHTTPServer.daemon_threads = True
            http = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), Handler)
            threading.Thread(target=serve_tcp, args=(int(sys.argv[3]),), daemon=True).start()
            http.serve_forever()
        host, port = sys.argv[2], sys.argv[3]
        out = {}
        if mode == "rtt":  # n one-byte round trips
            s = connect(host, port, "ECHO")
            rtts = []
            for _ in range(int(sys.argv[4])):
                start = time.monotonic()
                s.sendall(b"x")
                if s.recv(1) != b"x":
                    out["error"] = "echo lost"
                    break
                rtts.append((time.monotonic() - start) * 1000)
            s.close()
            out["rtts"] = rtts
        elif mode == "rttlog":  # one connection, a round trip every 50 ms for SECONDS, "t rtt" lines to FILE
            s = connect(host, port, "ECHO")
            seconds, path = float(sys.argv[4]), sys.argv[5]
            start = time.monotonic()
            with open(path, "w") as log:
                while time.monotonic() - start < seconds:
                    sent = time.monotonic()
                    s.sendall(b"x")
                    if s.recv(1) != b"x":
                        break
                    log.write("%.3f %.3f\n" % (sent - start, (time.monotonic() - sent) * 1000))
                    log.flush()
                    time.sleep(0.05)
            s.close()
        elif mode == "rate":  # bytes per second received over SECONDS
            s = connect(host, port, "SOURCE 1000000000000")
            seconds = float(sys.argv[4])
            start = time.monotonic()
            total = 0
            while time.monotonic() - start < seconds:
                data = s.recv(65536)
                if not data:
                    break
                total += len(data)
            out["rate"] = total / (time.monotonic() - start)
            s.close()
        elif mode == "reset":  # send, then wait for what the connection does
            s = connect(host, port, "ECHO")
            start = time.monotonic()
            s.sendall(b"hello")
            got = b""
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        out["end"] = "eof"
                        break
                    got += data
            except ConnectionResetError:
                out["end"] = "reset"
            except socket.timeout:
                out["end"] = "timeout"
            out["elapsed"] = time.monotonic() - start
            out["received"] = len(got)
        elif mode == "limit":  # how many bytes before EOF
            s = connect(host, port, "SOURCE 50000")
            got = b""
            out["end"] = "open"
            try:
                while len(got) < 50000:
                    data = s.recv(65536)
                    if not data:
                        out["end"] = "eof"
                        break
                    got += data
            except ConnectionResetError:
                out["end"] = "reset"
            out["received"] = len(got)
            out["intact"] = got == pattern(50000)[: len(got)]
        elif mode == "slices":  # the sizes of the reads of an N-byte blob
            n = int(sys.argv[4])
            s = connect(host, port, "BLOB %d" % n)
            got = b""
            sizes = []
            while len(got) < n:
                data = s.recv(65536)
                if not data:
                    break
                sizes.append(len(data))
                got += data
            out["sizes"] = sizes
            out["intact"] = got == pattern(n)
        elif mode == "slowclose":  # when the data and the FIN arrive
            s = connect(host, port, "CLOSE")
            start = time.monotonic()
            got = s.recv(100)
            out["data"] = time.monotonic() - start
            while s.recv(100):
                pass
            out["eof"] = time.monotonic() - start
            out["received"] = got.decode()
        elif mode == "http":  # METHOD PATH [HEADER:VALUE ...] [--body B]
            import http.client
            method, path = sys.argv[4], sys.argv[5]
            headers, body, rest = {}, None, sys.argv[6:]
            while rest:
                item = rest.pop(0)
                if item == "--body":
                    body = rest.pop(0)
                else:
                    name, value = item.split(":", 1)
                    headers[name] = value
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            start = time.monotonic()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                out.update(status=response.status, headers={k.lower(): v for k, v in response.getheaders()},
                           body=data.decode("latin-1"))
            except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead) as error:
                out["error"] = type(error).__name__
            out["elapsed"] = time.monotonic() - start
        elif mode == "raw":  # send HEX bytes, read until the server has been quiet for 0.5 s
            s = connect(host, port)
            s.sendall(bytes.fromhex(sys.argv[4]))
            s.settimeout(0.5)
            got = b""
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    got += data
            except socket.timeout:
                pass
            out["hex"] = got.hex()
        print(json.dumps(out))


    main()
    """#
}
