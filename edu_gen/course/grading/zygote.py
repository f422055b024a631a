"""The grading server: imports the grader once, forks one fresh child per exercise.

Run as ``python -I -m edu_gen.course.grading.zygote`` by :mod:`.isolate`. It never runs
student code itself. It answers one JSON line on stdout per request line on stdin; the
first line it writes is ``{"ready": ..., "registry": [[id, points], ...]}``, read before
any student code exists, so the parent's maximum points come from a clean grader.

For each request (an exercise id, the definitions kept by :mod:`.extract`, the ``fn``
expression of its ``check`` call, a time limit) it forks a child that

* starts a new session (so the whole process group can be killed), points stdin, stdout
  and stderr at ``/dev/null`` (the server's own pipes are gone from the child), works in
  an empty temporary folder, and gets CPU, memory and core-dump limits;
* takes a private copy of the exercise spec, executes the definitions, evaluates ``fn``
  and calls ``grade`` — exceptions in a definition are noted and the rest goes on, as
  in a notebook;
* checks that no function of the grader, numpy, torch or the standard modules it uses
  was rebound meanwhile (against a table the server built before forking);
* writes one line, ``<nonce><json>``, into a pipe only it and the server hold, and
  ``os._exit(0)``s (no ``atexit`` hook of the student's runs).

The server reads that pipe until the child exits or the time limit passes (then it kills
the child's process group): no line means the child exited, crashed or timed out, and the
reply says which. Within the child, code in the graded function shares a process with
the checks of that one exercise; the parent caps whatever comes back at the exercise's
registered points.
"""

from __future__ import annotations

import builtins
import copy
import importlib
import json
import os
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edu_gen.course.grading.guard import changed, isolate, snapshot

CHOOSE = "__edu_gen_choose__"
"""Stands for ``result.choose`` in the definitions (see :func:`.extract.as_choose`)."""
PRELOAD = ("matplotlib.pyplot", "scipy.stats", "pandas", "torch.utils.data")
"""Modules the exercise notebooks import that grading itself does not."""
MAX_MESSAGE = 4 << 20
TEXT_LIMIT = 20_000


UNDEFINED = object()


@dataclass
class Clean:
    """What the server holds from before any student code: ``grade``, the registry, the
    chapters warmed up so far, and the table of bindings a patch would change."""

    grade: Callable[..., Any]
    registry: dict[str, Any]
    table: dict[tuple[str, ...], Any] = field(default_factory=dict)
    warm: set[str] = field(default_factory=set)

    def warm_up(self, chapter: str) -> None:
        """Grade the chapter's references once here (lazy imports, first-call set-up), so
        no child repeats that; then record the bindings afresh."""
        if chapter in self.warm:
            return
        self.warm.add(chapter)
        for key, exercise in self.registry.items():
            if key.split(".")[0] == chapter:
                try:
                    self.grade(exercise, exercise.stand_in_fn())
                except Exception:  # noqa: BLE001 - a spec's own problem shows when graded
                    pass
        self.table = snapshot()


def clip(text: Any, limit: int = TEXT_LIMIT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " …"


def result_fields(result: Any) -> dict[str, Any]:
    """A grader ``Result`` as plain data; fields a grader may lack are read with defaults.

    ``contracts`` lists the broken contracts (from ``result.contracts`` when the grader
    reports them, and from each failed test's ``broken``).
    """
    tests = list(getattr(result, "tests", []) or [])
    failed = [t for t in tests if not getattr(t, "passed", False)]
    states = getattr(result, "contracts", None) or {}
    broken = {str(k) for k, v in states.items() if v == "broken"}
    broken |= {str(getattr(t, "broken", "") or "") for t in failed} - {""}
    return {
        "status": clip(getattr(result, "status", "invalid"), 100),
        "points": float(getattr(result, "points", 0.0)),
        "max_points": float(getattr(result, "max_points", 0)),
        "tests_passed": len(tests) - len(failed),
        "tests": len(tests),
        "failed_messages": [clip(getattr(t, "message", ""), 500) for t in failed[:20]],
        "contracts": sorted(clip(c, 100) for c in broken),
        "hint": clip(getattr(result, "hint", None) or "", 2000),
        "report": clip(result.report()),
    }


def send(fd: int, nonce: str, message: dict[str, Any]) -> None:
    data = (nonce + json.dumps(message, default=str) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def define(request: dict[str, Any], clean: Clean) -> tuple[dict[str, Any], list[str]]:
    """A fresh ``__main__`` with the definitions executed; the errors they raised."""
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    failed = set(request.get("failed", ()))

    def choose(exercise_id: str, fn: Any) -> Any:  # ``result.choose(fn)`` of the notebook
        known = clean.registry.get(exercise_id)
        return known.stand_in_fn() if known is not None and exercise_id in failed else fn

    namespace[CHOOSE] = choose
    errors = []
    for label, source in request["chunks"]:
        try:
            exec(compile(source, f"<{label}>", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - as a notebook cell would, go on
            errors.append(clip(f"{label}: {type(error).__name__}: {error}", 500))
    return namespace, errors


def child(request: dict[str, Any], fd: int, nonce: str, clean: Clean) -> None:
    """Runs in the forked child; never returns."""
    isolate(float(request["timeout"]))
    exercise = copy.copy(clean.registry[request["exercise"]])  # before any student code
    errors: list[str] = []
    message: dict[str, Any]
    try:
        namespace, errors = define(request, clean)
        try:
            fn = eval(compile(request["expression"], "<check argument>", "eval"), namespace)  # noqa: S307
        except Exception as error:  # noqa: BLE001
            fn, detail = UNDEFINED, clip(f"{type(error).__name__}: {error}", 500)
            message = {"outcome": "undefined", "detail": detail}
        if fn is not UNDEFINED:
            message = {"outcome": "graded", "result": result_fields(clean.grade(exercise, fn))}
    except SystemExit as stop:
        message = {"outcome": "exit", "detail": clip(f"SystemExit({stop.code!r})", 500)}
    except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit, ...
        message = {"outcome": "crash", "detail": clip(f"raised {type(error).__name__}", 500)}
    if broken := changed(clean.table):
        message = {"outcome": "tampered", "detail": ", ".join(broken[:5])}
    message["definition_errors"] = errors[:20]
    send(fd, nonce, message)
    os._exit(0)


def collect(fd: int, pid: int, deadline: float) -> tuple[bytes, int | None]:
    """Read the child's pipe until it exits (or every writer closed it) or the deadline."""
    data = bytearray()
    status = None
    eof = False
    while time.monotonic() < deadline:
        if not eof:
            wait = max(0.0, min(0.05, deadline - time.monotonic()))
            if select.select([fd], [], [], wait)[0]:
                piece = os.read(fd, 1 << 16)
                eof = not piece
                if len(data) < MAX_MESSAGE:
                    data += piece
        else:
            time.sleep(0.005)
        done, status_now = os.waitpid(pid, os.WNOHANG)
        if done:
            status = status_now
            break
    os.set_blocking(fd, False)
    try:
        while len(data) < MAX_MESSAGE and (piece := os.read(fd, 1 << 16)):
            data += piece
    except BlockingIOError:
        pass
    return bytes(data), status


def kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_one(request: dict[str, Any], clean: Clean) -> dict[str, Any]:
    """Grade one exercise in a forked child; the reply for the parent."""
    reply: dict[str, Any] = {"token": request["token"], "exercise": request["exercise"]}
    if request["exercise"] not in clean.registry:
        return {**reply, "outcome": "error", "detail": "not a registered exercise"}
    clean.warm_up(request["exercise"].split(".")[0])
    read, write = os.pipe()
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="edu_gen_grade_")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            os.close(read)
            os.chdir(workdir)
            child(request, write, nonce, clean)
        finally:
            os._exit(70)
    os.close(write)
    try:
        data, status = collect(read, pid, start + float(request["timeout"]))
    finally:
        os.close(read)
        kill_group(pid)
        shutil.rmtree(workdir, ignore_errors=True)
    if status is None:  # still running at the deadline: killed above
        os.waitpid(pid, 0)
        return {**reply, "outcome": "timeout", "seconds": round(time.monotonic() - start, 2)}
    reply["seconds"] = round(time.monotonic() - start, 2)
    lines = [ln for ln in data.split(b"\n") if ln.startswith(nonce.encode())]
    if len(lines) > 1:
        return {**reply, "outcome": "tampered", "detail": "more than one result was written"}
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return {**reply, "outcome": "crash", "detail": f"killed by {name}"}
    code = os.WEXITSTATUS(status)
    if not lines or code != 0:
        return {**reply, "outcome": "exit", "detail": f"exit code {code}, no result: os._exit?"}
    try:
        message = json.loads(lines[0][len(nonce) :])
    except ValueError:
        return {**reply, "outcome": "error", "detail": "unreadable result"}
    return {**message, **reply}


def preload() -> None:
    """Import what the course's notebooks import that grading does not."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module missing is no error
            pass


def serve() -> None:
    """Read requests on stdin, write replies on stdout, until stdin closes."""
    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    from edu_gen.course.grading.checker import REGISTRY, grade

    preload()
    clean = Clean(grade, dict(REGISTRY), snapshot())
    ready = {"ready": True, "registry": [[k, e.points] for k, e in clean.registry.items()]}
    channel_out.write((json.dumps(ready) + "\n").encode())
    channel_out.flush()
    for line in channel_in:
        try:
            reply = run_one(json.loads(line), clean)
        except Exception as error:  # noqa: BLE001 - a broken request must not stop the server
            reply = {"outcome": "error", "detail": f"{type(error).__name__}: {error}"}
        channel_out.write((json.dumps(reply, default=str) + "\n").encode())
        channel_out.flush()


if __name__ == "__main__":
    serve()
