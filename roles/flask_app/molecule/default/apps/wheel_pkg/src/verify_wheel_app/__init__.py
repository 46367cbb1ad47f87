"""A WSGI app shipped as a wheel: flask_app_module is verify_wheel_app:app, imported from the release's packages."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wheel app\n"]
