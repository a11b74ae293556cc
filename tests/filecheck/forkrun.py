"""``graphsynth-opt`` for the lit suite: each run forked from a server that has imported the tool.

The suite runs ``graphsynth-opt`` once per RUN line (about 180 times), and each start spends
~0.2 s importing xDSL, Lark and the dialect before a few milliseconds of work.  lit.cfg.py starts
``forkrun.py serve SOCKET`` once; a RUN line's ``graphsynth-opt ARGS`` becomes ``forkrun.py
client SOCKET ARGS`` (a bare interpreter, ``-S -E``, standard library only), which hands its
stdin, stdout and stderr, its arguments, working directory and environment to the server over a
Unix socket.  The server forks a child that takes those descriptors as its own and calls the
same entry point (``graphsynth.cli:main``) as the console script; the child sends back its exit
status, which the client exits with.  Where the server cannot be reached the client runs
``python -m graphsynth.cli`` itself, so a RUN line never depends on the server.

The server imports only (no thread is running when it forks), reaps its children through
SIGCHLD, and exits when its socket file is removed or lit's process ends (``--parent``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

_MAX_MESSAGE = 1 << 20
_FAILED = 1  # the child died without reporting (a signal, os._exit elsewhere)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _preload() -> None:
    """Import what a run imports lazily: the parsers, printer, verifier and every shipped pass."""
    import graphsynth.cli  # noqa: F401
    import graphsynth.grammar.mlir  # noqa: F401
    import graphsynth.grammar.parser  # noqa: F401
    import graphsynth.grammar.printer  # noqa: F401
    import graphsynth.verifier  # noqa: F401
    from graphsynth.pipeline import all_passes

    for load in all_passes().values():
        load()


def serve(path: str, parent: int) -> None:
    _preload()

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    while os.path.exists(path) and _alive(parent):
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _child(conn)  # never returns
        conn.close()
    listener.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _child(conn: socket.socket) -> None:
    code = _FAILED
    try:
        conn.settimeout(None)
        size = struct.unpack("!I", _recv_exact(conn, 4))[0]
        if size > _MAX_MESSAGE:
            os._exit(_FAILED)
        msg, fds, _flags, _addr = socket.recv_fds(conn, size, 3)
        while len(msg) < size:
            msg += _recv_exact(conn, size - len(msg))
        request = json.loads(msg)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        from graphsynth.cli import main

        try:
            code = main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else _FAILED)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    except BaseException:  # noqa: BLE001 - the client reports a failure; the child must not return
        import traceback

        traceback.print_exc()
        code = _FAILED
    try:
        conn.sendall(struct.pack("!i", int(code or 0)))
    finally:
        os._exit(0)


def client(path: str, argv: list[str]) -> int:
    request = json.dumps({"argv": ["graphsynth-opt", *argv], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return _run_directly(argv)
    with conn:
        conn.sendall(struct.pack("!I", len(request)))
        socket.send_fds(conn, [request], [0, 1, 2])
        try:
            return struct.unpack("!i", _recv_exact(conn, 4))[0]
        except (EOFError, OSError):
            return _FAILED


def _run_directly(argv: list[str]) -> int:
    import subprocess

    return subprocess.call([sys.executable, "-m", "graphsynth.cli", *argv])


if __name__ == "__main__":
    mode, sock = sys.argv[1], sys.argv[2]
    if mode == "serve":
        serve(sock, int(sys.argv[3]))
    else:
        sys.exit(client(sock, sys.argv[3:]))
