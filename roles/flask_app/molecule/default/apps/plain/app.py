"""A WSGI app that cooperates with nothing: no framework, no requirements file. Its answer names its version."""

from pathlib import Path

VERSION = (Path(__file__).with_name("VERSION").read_text().strip()
           if Path(__file__).with_name("VERSION").exists() else "0")


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"plain app {VERSION}\n".encode()]
