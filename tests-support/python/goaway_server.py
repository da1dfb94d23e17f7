"""An HTTP/2 server (h2c, prior knowledge) built on hyper-h2 that retires
each connection after PER_CONNECTION requests the way the RFC allows: it
answers the request that reaches the limit, sends GOAWAY naming that
request's stream as the last one it processed, and never answers the
streams the client had already sent above it ("mid-flight"). Those were not
processed: a client must send them again on a new connection.

Usage: goaway_server.py PER_CONNECTION. Prints its port, then on SIGTERM a
JSON line: {"processed": N, "connections": C, "unprocessed": U}
(U: requests that arrived above a GOAWAY's last stream id).
"""

import json
import signal
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events

PER_CONNECTION = int(sys.argv[1])
lock = threading.Lock()
counts = {"processed": 0, "connections": 0, "unprocessed": 0}


def count(key, n=1):
    with lock:
        counts[key] += n


def serve(sock):
    count("connections")
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    answered, last = 0, None
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            if last is not None:
                # After the GOAWAY: frames of streams that will not be
                # processed; whatever they are, they are not answered.
                continue
            for event in conn.receive_data(data):
                if not isinstance(event, h2.events.RequestReceived):
                    continue
                if last is not None:
                    count("unprocessed")
                    continue
                body = b"ok\n"
                conn.send_headers(
                    event.stream_id,
                    [(":status", "200"), ("content-length", str(len(body)))],
                )
                conn.send_data(event.stream_id, body, end_stream=True)
                answered += 1
                count("processed")
                if answered == PER_CONNECTION:
                    last = event.stream_id
                    conn.close_connection(last_stream_id=last)
            sock.sendall(conn.data_to_send())
            if last is not None:
                # Let the client read the GOAWAY before the connection ends.
                threading.Timer(0.2, sock.close).start()
    except OSError:
        return


def report(*_):
    with lock:
        print(json.dumps(counts), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
print(srv.getsockname()[1], flush=True)
while True:
    client, _ = srv.accept()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(client,), daemon=True).start()
