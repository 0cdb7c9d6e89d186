# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per thing a run changes (private to gitlab_duo.self_hosted).

Two layers. ``held(path, what, timeout)`` takes an exclusive ``flock`` on ``path`` for one module call: a second
run on the same host waits up to ``timeout`` seconds, then fails with a message naming the holder. The kernel drops
the lock when its process ends, so a killed run never leaves a stale one.

A lease spans a whole playbook run, between its tasks: the playbooks take it on each gateway host at the start
(``acquire``, the gateway_host_lease module) and give it back at the end (``release``). It is a JSON file in the
lock directory naming its run (id, playbook, control node, process, user), when it started and when it expires,
and what it covers (gateway containers, proxy directories). While a live lease of one run covers a container or
a proxy directory, ``held(..., lease=...)`` makes the changing modules of any other run wait, then fail naming
the holder; the holder's own calls renew it. A killed run cannot give it back: its lease expires after its ttl, and
``break_run`` takes it over at once when that run is known to be gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
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
# The run_id option of the same modules and of gateway_host_lease (the same doc fragment).
RUN_ID_OPTION = dict(type="str")
LOCK_DIRECTORIES = ("/run/lock", "/var/lock")
POLL_SECONDS = 0.2
LEASE_FORMAT = 1
LEASE_PREFIX, LEASE_SUFFIX = "lease-", ".json"
LEASE_POLL_SECONDS = 1.0
LEASE_TTL_RANGE = (10, 7 * 86400)
# What a lease covers, and how a module names what it changes: a container name, an absolute proxy directory.
CONTAINERS, PROXY_DIRS = "containers", "proxy_dirs"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}\Z")
_LEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


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


def check_timeout(timeout, field="lock_timeout"):
    if isinstance(timeout, bool) or timeout is None or not 0 <= timeout <= 86400:
        raise InputError(field, timeout, "is outside 0-86400 seconds", "use a number of seconds")


@contextlib.contextmanager
def held(path, what, timeout, lease=None):
    """Hold the exclusive lock ``path`` for the block; wait at most ``timeout`` seconds for another run. With
    ``lease=(run_id, kind, target)`` also wait, within the same time, while a live lease of another run covers
    ``target`` (a container name for kind CONTAINERS, a proxy directory for PROXY_DIRS); a lease of ``run_id``
    that covers it is renewed."""
    check_timeout(timeout)
    if not HAS_FCNTL:  # pragma: no cover
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
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
                continue
            blocking = lease and blocking_lease(lease[0], lease[1], lease[2])
            if not blocking:
                break
            # Another run's lease covers what this call changes: let go of the lock while waiting for it.
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            if time.monotonic() >= deadline:
                raise DuoError("{0} is leased to another run: {1}; waited {2} s. Fix: {3}".format(
                    what[0].upper() + what[1:], describe_lease(blocking), timeout, LEASE_FIX.format(**blocking)),
                    lease=blocking)
            time.sleep(LEASE_POLL_SECONDS)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, "pid {0} since {1}\n".format(
            os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())).encode("ascii"), 0)
        yield
    finally:
        os.close(descriptor)  # closing drops the lock


# -- the lease of a playbook run -------------------------------------------------------------------------------

LEASE_FIX = ("let that run finish, then run again. If it was stopped (Ctrl-C, killed), run again from the same "
             "control node (a lease whose run is gone there is taken over), wait until it expires, or run again "
             "with -e ai_gateway_lease_break={run_id} (gateway_host_lease break_run).")


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def lease_path(name, directory=None):
    """The lease file of ``name`` (the gateway container the lease is named after)."""
    if not _LEASE_NAME.match(str(name or "")):
        raise InputError("name", name, "may hold only letters, digits, '_', '.' and '-'",
                         "use the gateway container's name, e.g. gitlab-ai-gateway")
    return os.path.join(directory or lock_directory(), LEASE_PREFIX + name + LEASE_SUFFIX)


def describe_lease(lease, now=None):
    """'run <id> (<playbook> from <control node> pid <pid> as <user>), started <time>, expires <time> (in <n> s)'."""
    now = time.time() if now is None else now
    origin = " ".join(part for part in (
        lease.get("playbook") or "",
        "from " + lease["control_node"] if lease.get("control_node") else "",
        "pid {0}".format(lease["control_pid"]) if lease.get("control_pid") else "",
        "as " + lease["control_user"] if lease.get("control_user") else "") if part)
    return "run {0}{1}, started {2}, expires {3} (in {4} s), lease {5}".format(
        lease.get("run_id"), " ({0})".format(origin) if origin else "", iso(lease.get("started", 0)),
        iso(lease.get("expires", 0)), max(0, int(lease.get("expires", 0) - now)), lease.get("path", "?"))


@contextlib.contextmanager
def _leases_locked(directory):
    """The leases of this host are read and written one run at a time (a short flock on leases.lock)."""
    if not HAS_FCNTL:  # pragma: no cover
        yield
        return
    descriptor = os.open(os.path.join(directory, "leases.lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                         0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _read_leases(directory):
    """{name: lease} of every lease file in ``directory``; a file that is not a lease is left out (it cannot be one
    a run wrote: they are written whole, by rename)."""
    leases = {}
    for entry in sorted(os.listdir(directory)):
        if not (entry.startswith(LEASE_PREFIX) and entry.endswith(LEASE_SUFFIX)):
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8") as handle:
                lease = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(lease, dict) and lease.get("format") == LEASE_FORMAT and lease.get("run_id"):
            lease["path"] = path
            leases[entry[len(LEASE_PREFIX):-len(LEASE_SUFFIX)]] = lease
    return leases


def _write_lease(path, lease):
    """Write ``lease`` whole (a temporary file renamed over the lease), mode 0600."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".lease-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({key: value for key, value in lease.items() if key != "path"}, handle, sort_keys=True)
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _covers(lease, kind, target):
    return target in (lease.get("covers") or {}).get(kind, [])


def _overlaps(lease, name, covers):
    return lease.get("name") == name or any(_covers(lease, kind, target)
                                            for kind, targets in covers.items() for target in targets)


def blocking_lease(run_id, kind, target, directory=None, now=None):
    """The live lease of another run that covers ``target`` (None when there is none); a live lease of ``run_id``
    that covers it is renewed for its ttl. ``run_id`` None: every live lease is another run's."""
    directory = directory or lock_directory()
    now = time.time() if now is None else now
    if kind == PROXY_DIRS:
        target = os.path.abspath(target)
    with _leases_locked(directory):
        for lease in _read_leases(directory).values():
            if lease["expires"] <= now or not _covers(lease, kind, target):
                continue
            if lease["run_id"] != run_id:
                return lease
            lease.update(renewed=now, expires=now + lease["ttl"])
            _write_lease(lease["path"], lease)
    return None


def check_run_id(run_id, field="run_id"):
    if run_id is not None and not _RUN_ID.match(str(run_id)):
        raise InputError(field, run_id, "may hold only letters, digits and _ . : @ + - (at most 128)",
                         "use the id the playbook made (ai_gateway_run.id)")
    return run_id


def acquire(params, check_mode=False, directory=None, clock=time.time, sleep=time.sleep):
    """The gateway_host_lease module's state=held: take (or renew) the lease ``params['name']`` for
    ``params['run_id']``, covering ``params['containers']`` and ``params['proxy_dirs']``. Waits up to lock_timeout
    while a live lease of another run has the name or covers any of them, then fails naming it. An expired lease,
    or a live one of ``break_run``, is taken over (the result says whose). In check mode nothing is written and
    nothing waited for: the result says who holds it."""
    check_run_id(params["run_id"])
    check_run_id(params.get("break_run") or None, "break_run")
    check_timeout(params["lock_timeout"])
    low, high = LEASE_TTL_RANGE
    if isinstance(params["ttl"], bool) or not low <= params["ttl"] <= high:
        raise InputError("ttl", params["ttl"], "is outside {0}-{1} seconds".format(low, high),
                         "give the seconds a lease of a run that stops answering lasts, e.g. 3600")
    directory = directory or lock_directory()
    path = lease_path(params["name"], directory)
    covers = {CONTAINERS: sorted(set([params["name"]] + list(params.get("containers") or []))),
              PROXY_DIRS: sorted(set(os.path.abspath(item) for item in params.get("proxy_dirs") or []))}
    deadline = clock() + params["lock_timeout"]
    while True:
        now = clock()
        with _leases_locked(directory):
            leases = _read_leases(directory)
            others = [lease for lease in leases.values() if lease["run_id"] != params["run_id"]
                      and _overlaps(lease, params["name"], covers)]
            live = [lease for lease in others if lease["expires"] > now]
            broken = [lease for lease in live if params.get("break_run") and lease["run_id"] == params["break_run"]]
            blocking = [lease for lease in live if lease not in broken]
            mine = leases.get(params["name"]) if (leases.get(params["name"]) or {}).get("run_id") == params[
                "run_id"] else None
            result = dict(changed=False, name=params["name"], path=path)
            if check_mode or not blocking:
                replaced = [lease for lease in others if lease not in blocking]
                lease = dict(format=LEASE_FORMAT, name=params["name"], run_id=params["run_id"],
                             playbook=params.get("playbook") or "", control_node=params.get("control_node") or "",
                             control_pid=params.get("control_pid") or 0, control_user=params.get("control_user") or "",
                             started=(mine or {}).get("started", now), renewed=now, expires=now + params["ttl"],
                             ttl=params["ttl"], covers=covers, path=path)
                if not check_mode and not blocking:
                    # A lease replaced here belonged to a run that is over (expired) or gone (break_run); its
                    # file is removed first when it has another name, so it covers nothing any more.
                    for old in replaced:
                        if old["path"] != path:
                            os.unlink(old["path"])
                    _write_lease(path, lease)
                result.update(held=not blocking, lease=_public(lease, now), holder=_public(blocking[0], now)
                              if blocking else None,
                              taken_over=[dict(_public(old, now), why="broken" if old in broken else "expired")
                                          for old in replaced])
                return result
        if now >= deadline:
            raise DuoError("This gateway host is leased to another run: {0}; waited {1} s. Fix: {2}".format(
                describe_lease(blocking[0], now), params["lock_timeout"], LEASE_FIX.format(**blocking[0])),
                holder=_public(blocking[0], now), held=False, name=params["name"], path=path)
        sleep(min(LEASE_POLL_SECONDS, max(0.0, deadline - now)))


def release(params, check_mode=False, directory=None, clock=time.time):
    """The gateway_host_lease module's state=released: give back the lease ``params['name']`` when ``run_id``
    holds it; a lease of another run (this one's expired and was taken over) is left alone and reported."""
    check_run_id(params["run_id"])
    directory = directory or lock_directory()
    path = lease_path(params["name"], directory)
    now = clock()
    with _leases_locked(directory):
        lease = _read_leases(directory).get(params["name"])
        result = dict(changed=False, name=params["name"], path=path, released=False, holder=None)
        if lease is None:
            return result
        if lease["run_id"] != params["run_id"]:
            result["holder"] = _public(lease, now)
            return result
        if not check_mode:
            os.unlink(path)
        result.update(released=True, lease=_public(lease, now))
        return result


def manage_lease(params, check_mode=False):
    """The gateway_host_lease module's whole job: state=held acquires, state=released releases."""
    return (acquire if params["state"] == "held" else release)(params, check_mode)


def _public(lease, now):
    """A lease as a module returns it: times also as UTC text, how long it is still live."""
    shown = {key: value for key, value in lease.items() if key != "format"}
    shown.update(started_at=iso(lease["started"]), expires_at=iso(lease["expires"]),
                 expires_in=max(0, int(lease["expires"] - now)), live=lease["expires"] > now)
    return shown
