"""The instructor's side of isolated grading: a handle on one grading server.

:class:`Isolator` starts ``python -I -m edu_gen.course.grading.zygote`` (isolated mode:
no current folder or ``PYTHON*`` variables on its path), with one thread per numeric
library, FAST mode as asked, and no report-file variables, and talks to it over its
stdin/stdout pipes, which no student code holds. Each request carries a fresh random
token; a reply counts only with that token. A server that dies, answers garbage or
stops answering costs the exercise in flight (``crash``/``timeout``) and is restarted
for the next one. POSIX only (the server forks).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

GRACE = 30.0
"""Seconds the server may take beyond an exercise's own limit before it counts as hung."""
STARTUP = 300.0
DROPPED_VARIABLES = ("EDU_GEN_GRADING_REPORT", "EDU_GEN_REPORT")


class ServerError(RuntimeError):
    """The grading server could not start."""


def server_environment(*, fast: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    threads = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1")
    return {
        **env,
        **threads,
        "EDU_GEN_FAST": "1" if fast else "0",
        "EDU_GEN_STRICT": "0",
        "MPLBACKEND": "Agg",
        "TQDM_DISABLE": "1",
    }


class Isolator:
    """One grading server; :meth:`grade` one exercise at a time (not thread safe)."""

    def __init__(self, *, fast: bool = True, python: str = sys.executable) -> None:
        self.fast = fast
        self.python = python
        self.registry: dict[str, float] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.log = tempfile.TemporaryFile()

    # -------------------------------------------------------------- process

    def launch(self) -> None:
        """Start the server without waiting for it (see :meth:`wait_ready`)."""
        self.close()
        self.buffer = b""
        self.process = subprocess.Popen(
            [self.python, "-I", "-m", "edu_gen.course.grading.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=server_environment(fast=self.fast),
            start_new_session=True,  # Ctrl-C reaches the instructor's process only
        )

    def wait_ready(self) -> None:
        line = self.readline(time.monotonic() + STARTUP)
        try:
            ready = json.loads(line or b"{}")
        except ValueError:
            ready = {}
        if not ready.get("ready"):
            self.log.seek(0)
            tail = self.log.read().decode(errors="replace").strip().splitlines()[-5:]
            self.close()
            raise ServerError("the grading server did not start: " + " | ".join(tail))
        self.registry = {str(k): float(v) for k, v in ready["registry"]}

    def start(self) -> Isolator:
        self.launch()
        self.wait_ready()
        return self

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()  # the server exits when its input closes
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        process.stdout.close()

    def __enter__(self) -> Isolator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.log.close()

    # -------------------------------------------------------------- requests

    def readline(self, deadline: float) -> bytes | None:
        """One line from the server, or None at end of file or past ``deadline``."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            piece = os.read(fd, 1 << 16)
            if not piece:
                return None
            self.buffer += piece
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def grade(
        self,
        exercise_id: str,
        chunks: list[tuple[str, str]],
        expression: str,
        *,
        timeout: float,
        failed: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Grade one exercise in a fresh child of the server; the server's reply.

        ``outcome`` is ``graded`` (with ``result``), ``undefined``, ``exit``, ``crash``,
        ``timeout``, ``tampered`` or ``error``, with a ``detail``.
        """
        if self.process is None or self.process.poll() is not None:
            self.start()
        token = secrets.token_hex(16)
        request = {
            "token": token,
            "exercise": exercise_id,
            "chunks": chunks,
            "expression": expression,
            "timeout": timeout,
            "failed": list(failed),
        }
        start = time.monotonic()
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self.close()
            return {"outcome": "crash", "detail": "the grading server had stopped"}
        deadline = start + timeout + GRACE
        while (line := self.readline(deadline)) is not None:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("token") == token:
                return reply
        hung = time.monotonic() >= deadline
        self.close()  # restarted by the next request
        if hung:
            return {"outcome": "timeout", "detail": "the grading server stopped answering"}
        return {"outcome": "crash", "detail": "the grading server died"}
