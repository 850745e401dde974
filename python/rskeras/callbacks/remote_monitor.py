"""`RemoteMonitor`: POST each epoch's logs to a server."""

from __future__ import annotations

import json
import warnings

from rskeras.callbacks.callback import Callback


def _plain(value):
    """A log value as a JSON-ready Python value (a one-element array or tensor as its item)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:
        return value.item()
    if hasattr(value, "__array__"):
        import numpy as np

        array = np.asarray(value)
        return array.item() if array.size == 1 else array.tolist()
    return value


class RemoteMonitor(Callback):
    """At each epoch end, send `{"epoch": epoch, **logs}` to `root + path` in an HTTP POST
    (Keras 3's `keras.callbacks.RemoteMonitor`, sent with the standard library's `urllib`
    instead of `requests`).

    The body is what Keras's `requests.post` sends: by default a form
    (`application/x-www-form-urlencoded`) with one field, `field`, holding the logs as a JSON
    string; with `send_as_json=True`, the JSON object itself (`application/json`). A server
    that cannot be reached gives a warning, not an exception; an HTTP error status is
    ignored, as `requests` ignores it.

    Args:
        root: the server's root URL (default "http://localhost:9000").
        path: the path added to `root` (default "/publish/epoch/end/").
        field: the form field holding the JSON (default "data"); unused with `send_as_json`.
        headers: a dict of extra HTTP headers (default None).
        send_as_json: send the logs as the JSON body (default False).
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False):
        super().__init__()
        self.root, self.path, self.field = root, path, field
        self.headers, self.send_as_json = headers, send_as_json

    def on_epoch_end(self, epoch, logs=None):
        # Imported here: urllib.request loads ssl and http.client (~25 ms of `import rskeras`).
        import urllib.error
        import urllib.parse
        import urllib.request

        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = _plain(value)
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("utf-8")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError:
            pass  # the server answered: `requests` does not raise on an error status either
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
