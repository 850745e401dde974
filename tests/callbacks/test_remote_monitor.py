"""`keras.callbacks.RemoteMonitor` against Keras 3 (keras/src/callbacks/remote_monitor.py, which
posts with `requests`): what reaches a local HTTP server on 127.0.0.1 at each epoch end, as a
form field holding JSON or as a JSON body, with the headers given; an unreachable server warns."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.parse
import warnings

import pytest
import rskeras as keras

from tests.callbacks._helpers import make_data, make_model


class Server:
    """An HTTP server on 127.0.0.1 (a free port) in a thread, keeping every POST it gets."""

    def __init__(self, status=200):
        self.posts = []
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def fit(callback, epochs=2):
    x, y = make_data()
    vx, vy = make_data(16, seed=4)
    return make_model().fit(x, y, batch_size=16, epochs=epochs, validation_data=(vx, vy), verbose=0,
                            callbacks=[callback])


def expected(history, epoch):
    return {"epoch": epoch, **{k: v[epoch] for k, v in history.history.items()}}


def test_posts_a_form_field_holding_json():
    with Server() as server:
        history = fit(keras.callbacks.RemoteMonitor(root=server.root))
    assert len(server.posts) == 2
    for epoch, post in enumerate(server.posts):
        assert post["path"] == "/publish/epoch/end/"
        assert post["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        form = urllib.parse.parse_qs(post["body"].decode())
        assert list(form) == ["data"]
        sent = json.loads(form["data"][0])
        assert sent == expected(history, epoch)
        assert list(sent) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]


def test_send_as_json_with_path_field_and_headers():
    with Server() as server:
        history = fit(keras.callbacks.RemoteMonitor(root=server.root, path="/hook", field="ignored",
                                                    headers={"X-Run": "7"}, send_as_json=True))
    assert [p["path"] for p in server.posts] == ["/hook", "/hook"]
    for epoch, post in enumerate(server.posts):
        assert post["headers"]["Content-Type"] == "application/json"
        assert post["headers"]["X-Run"] == "7"
        assert json.loads(post["body"]) == expected(history, epoch)


def test_custom_field_name():
    with Server() as server:
        fit(keras.callbacks.RemoteMonitor(root=server.root, field="metrics"), epochs=1)
    assert list(urllib.parse.parse_qs(server.posts[0]["body"].decode())) == ["metrics"]


def test_http_error_status_is_ignored():
    # `requests` does not raise on a 500 answer, so Keras neither raises nor warns
    with Server(status=500) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(keras.callbacks.RemoteMonitor(root=server.root), epochs=1)
    assert len(server.posts) == 1


def test_unreachable_server_warns():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = f"http://127.0.0.1:{port}"
    with pytest.warns(UserWarning, match=f"Could not reach RemoteMonitor root server at {root}"):
        history = fit(keras.callbacks.RemoteMonitor(root=root), epochs=1)
    assert len(history.history["loss"]) == 1


def test_defaults():
    cb = keras.callbacks.RemoteMonitor()
    assert (cb.root, cb.path, cb.field, cb.headers, cb.send_as_json) == (
        "http://localhost:9000", "/publish/epoch/end/", "data", None, False)
