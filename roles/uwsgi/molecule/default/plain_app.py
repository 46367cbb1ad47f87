"""A WSGI app that cooperates with nothing: no framework, no special headers. / says hello, /slow?s=N sleeps."""

import time


def app(environ, start_response):
    path, query = environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", "")
    if path == "/slow":
        time.sleep(int(query.partition("=")[2] or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"hello from {path}\n".encode()]
