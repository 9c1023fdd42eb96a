#!/usr/bin/python3
"""test/tools/pty_run.py: runs a command on a pseudo-terminal, as an operator
at a terminal would, for the CLI tests that need one (a passphrase prompt,
Ctrl-C).

    pty_run.py EXPECT SEND [HOOK] -- CMD ARGS...

Starts CMD on a new pty, reads its output until EXPECT appears (at most 20 s,
else exit 99), runs HOOK with sh -c if one is given (and waits for it), then
types SEND (Python escapes: '\\x03' is Ctrl-C, which the terminal turns into
SIGINT), reads the output to its end and exits with the command's exit status
(128 + N when a signal N ended it).  The command's output goes to stdout.
"""
import os
import pty
import select
import subprocess
import sys
import time


def main():
    if "--" not in sys.argv or sys.argv.index("--") < 3:
        sys.stderr.write("usage: pty_run.py EXPECT SEND [HOOK] -- CMD ARGS...\n")
        return 2
    sep = sys.argv.index("--")
    expect = sys.argv[1].encode()
    send = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
    hook = sys.argv[3] if sep > 3 else None
    cmd = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    deadline = time.monotonic() + 20
    while expect not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.stderr.write("pty_run.py: %r never appeared\n" % expect)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return 99
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
    if hook:
        subprocess.run(["sh", "-c", hook], check=False)
    os.write(fd, send)
    while True:
        r, _, _ = select.select([fd], [], [], 20)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
