# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per thing a run changes (private to gitlab_duo.self_hosted).

``held(path, what, timeout)`` takes an exclusive ``flock`` on ``path``: a second run on the same host waits up to
``timeout`` seconds, then fails with a message naming the holder. The kernel drops the lock when its process ends,
so a killed run never leaves a stale one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX
    HAS_FCNTL = False

# The lock_timeout option of every module that changes a gateway or a proxy directory
# (documented by the gitlab_duo.self_hosted.lock doc fragment).
LOCK_TIMEOUT_OPTION = dict(type="int", default=300)
LOCK_DIRECTORIES = ("/run/lock", "/var/lock")
POLL_SECONDS = 0.2


def lock_directory():
    """Where per-host locks live: /run/lock/gitlab_duo.self_hosted (or the temporary directory)."""
    for base in LOCK_DIRECTORIES + (tempfile.gettempdir(),):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            path = os.path.join(base, "gitlab_duo.self_hosted")
            os.makedirs(path, mode=0o700, exist_ok=True)
            return path
    raise DuoError("No writable lock directory ({0}). Fix: run as a user who may write to one of them.".format(
        ", ".join(LOCK_DIRECTORIES)))


def proxy_lock_path(proxy_dir):
    """The lock of one proxy directory (shared by nginx_proxy and tls_certificate for its certs/)."""
    name = os.path.abspath(proxy_dir).strip("/").replace("/", "_") or "root"
    return os.path.join(lock_directory(), "proxy-{0}.lock".format(name))


@contextlib.contextmanager
def held(path, what, timeout):
    """Hold the exclusive lock ``path`` for the block; wait at most ``timeout`` seconds for another run."""
    if isinstance(timeout, bool) or timeout is None or not 0 <= timeout <= 86400:
        raise InputError("lock_timeout", timeout, "is outside 0-86400 seconds", "use a number of seconds")
    if not HAS_FCNTL:  # pragma: no cover
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "unknown"
                    raise DuoError(
                        "Another run is changing {0} (lock {1}, held by {2}); waited {3} s. Fix: let that run "
                        "finish and run again, or raise lock_timeout.".format(what, path, holder, timeout),
                        lock=path)
                time.sleep(POLL_SECONDS)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, "pid {0} since {1}\n".format(
            os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())).encode("ascii"), 0)
        yield
    finally:
        os.close(descriptor)  # closing drops the lock
