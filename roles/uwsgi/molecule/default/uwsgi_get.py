"""GET a path from a uWSGI unix socket in the uwsgi protocol (what nginx's uwsgi_pass speaks); print the reply.

Usage: python3 uwsgi_get.py SOCKET PATH [TIMEOUT]   prints the status line, or "closed" for no reply, then the body
       python3 uwsgi_get.py STATS_SOCKET --workers        prints the number of workers the stats server lists
"""

import json
import socket
import struct
import sys


def packet(path: str) -> bytes:
    path, _, query = path.partition("?")
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "verify",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    body = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode()
                    for k, v in env.items())
    return struct.pack("<BHB", 0, len(body), 0) + body


def main(sock_path: str, path: str, timeout: float = 30) -> int:
    if path == "--workers":
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            data = b"".join(iter(lambda: s.recv(65536), b""))
        print(len(json.loads(data)["workers"]))
        return 0
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(packet(path))
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    print(reply.split(b"\r\n", 1)[0].decode() if reply else "closed")
    print(reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace") if reply else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 30))
