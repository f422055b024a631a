"""A minimal DevTools-protocol client for headless Chromium over ``--remote-debugging-pipe``.

Headless Chromium's one-shot flags (``--dump-dom``, ``--print-to-pdf``) act when the page
has *loaded* or, with ``--virtual-time-budget``, when virtual time runs out — and virtual
time is fast-forwarded to the end of the budget as soon as no timer is pending. A page
that is still waiting for an animation frame or its ``load`` event then gets dumped or
printed half laid out. This client instead asks the page, in real time, whether a
condition holds (:meth:`Page.wait_for`) and only then prints it (:meth:`Page.print_pdf`).

The pipe protocol: Chromium reads JSON commands from fd 3 and writes JSON replies and
events to fd 4, each message terminated by a NUL byte. Standard library only.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path


class DevToolsError(RuntimeError):
    """Chromium exited, answered with an error, or a wait timed out."""


class Chromium:
    """One headless Chromium process driven over the DevTools pipe; use as a context manager."""

    def __init__(self, binary: str, args: list[str], *, timeout: float = 180) -> None:
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._profile = tempfile.TemporaryDirectory(prefix="edu_gen_chromium_")
        self._log = tempfile.TemporaryFile()
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends above fd 9 first, so that placing them on fd 3 and 4 in
        # the child cannot overwrite one with the other.
        child_in = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def place_pipes() -> None:  # runs in the child, before exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile.name}",
            *args,
            "about:blank",
        ]
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                pass_fds=(3, 4),
                preexec_fn=place_pipes,  # noqa: PLW1509 (no threads start Chromium here)
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self._write = to_chrome_w
        self._read = from_chrome_r
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._send("Browser.close", {}, None)
            except (OSError, DevToolsError):
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def log_tail(self, chars: int = 500) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-chars:]

    # ------------------------------------------------------------------ protocol
    def _send(self, method: str, params: dict, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._write, data)
            data = data[written:]
        return self._next_id

    def _receive(self) -> dict:
        while b"\0" not in self._buffer:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise DevToolsError(f"Chromium did not answer within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._read], [], [], min(left, 1.0))
            if not ready:
                if self._process.poll() is not None:
                    raise DevToolsError(f"Chromium exited: {self.log_tail()}")
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise DevToolsError(f"Chromium closed the pipe: {self.log_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        wanted = self._send(method, params or {}, session)
        while True:
            message = self._receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def open(self, url: str) -> Page:
        """A new tab showing ``url`` (navigation started, not awaited)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", {"url": url})
        return page


class Page:
    """One tab of :class:`Chromium`."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str):
        """The JSON value of ``expression`` in the page (``None`` on a script error)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, ready=bool, *, timeout: float, poll: float = 0.1):
        """Evaluate ``expression`` every ``poll`` seconds (real time) until ``ready`` of its
        value is true, and return that value; :class:`DevToolsError` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if ready(value):
                return value
            if time.monotonic() >= deadline:
                raise DevToolsError(f"timed out after {timeout:.0f} s; the page said {value!r}")
            time.sleep(poll)

    def print_pdf(self, path: Path) -> Path:
        """The page as a PDF, page size from its CSS ``@page`` rule, backgrounds printed."""
        result = self.call(
            "Page.printToPDF",
            {"preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False},
        )
        path = Path(path)
        path.write_bytes(base64.b64decode(result["data"]))
        return path
