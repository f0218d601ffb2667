"""A writer lease on a Chroma server, so two ingestions into one shared index cannot interleave.

``flock`` only works for an index on this machine's disk. On a Chroma server the lease is a
tiny collection named ``<collection>-lock``: creating a collection is atomic on the server
(exactly one of several concurrent creates succeeds), so the creator holds the lease. Its
metadata records the owner and an expiry in the *server's* clock (read from the heartbeat, so
machines with skewed clocks agree). The holder renews it from a background thread; a killed
holder stops renewing and its lease can be taken over once expired, or at once when the owner
is a dead process on this machine.

Taking over or releasing renames the lock collection *by id* before deleting it, so a process
can only ever remove the very lease it inspected, never one somebody else created meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class LeaseBusy(RuntimeError):
    """Another process holds the writer lease."""


class LeaseLost(RuntimeError):
    """This process's lease expired and was taken over (it stalled longer than the lease)."""


def _pid_namespace() -> str:
    # Processes in other containers can share a hostname but never a pid namespace.
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` ("" if unknown), so a reused pid is not mistaken
    for the original owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22; the command name (field 2) may contain spaces, so split after its ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def owner_record() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pidns": _pid_namespace(),
        "pid": pid,
        "started": _start_time(pid),
    }


def owner_is_dead_here(meta: dict[str, Any]) -> bool:
    """True only when the owner certainly was a process on this host that no longer runs."""
    me = owner_record()
    if meta.get("host") != me["host"] or not me["pidns"] or meta.get("pidns") != me["pidns"]:
        return False
    pid = meta.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by another user
    started = meta.get("started")
    return bool(started) and _start_time(pid) not in ("", started)


class ServerLease:
    """The writer lease ``<name>-lock`` on one Chroma server (see the module docstring)."""

    def __init__(self, client: Any, collection: str, ttl: float, where: str) -> None:
        self.client = client
        self.name = f"{collection}-lock"
        self.ttl = float(ttl)
        self.where = where  # for messages: the server URL and collection
        self._held: Any = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _server_now(self) -> float:
        return int(self.client.heartbeat()) / 1e9

    def _meta(self) -> dict[str, Any]:
        rec = owner_record()
        return {**rec, "owner": f"pid {rec['pid']} on {rec['host']}", "expires": self._expiry()}

    def _expiry(self) -> float:
        return self._server_now() + self.ttl

    def _try_create(self) -> bool:
        from chromadb.errors import ChromaError

        try:
            self._held = self.client.create_collection(
                self.name, embedding_function=None, metadata=self._meta()
            )
            return True
        except ChromaError as exc:
            # The server answers a duplicate name with a plain ChromaError ("already exists").
            if "exist" not in str(exc).lower():
                raise
            return False

    def _remove(self, coll: Any) -> None:
        """Delete exactly this lock collection: rename it by id, then delete the new name."""
        from chromadb.errors import NotFoundError

        tomb = f"{self.name}-gone-{uuid.uuid4().hex[:12]}"
        try:
            coll.modify(name=tomb)
            self.client.delete_collection(tomb)
        except NotFoundError:
            pass  # someone else removed it first

    def acquire(self) -> None:
        from chromadb.errors import NotFoundError

        for _ in range(3):
            if self._try_create():
                self._start_renewing()
                return
            try:
                current = self.client.get_collection(self.name)
            except NotFoundError:
                continue  # released between our create and our look
            meta = dict(current.metadata or {})
            remaining = float(meta.get("expires", 0)) - self._server_now()
            if remaining > 0 and not owner_is_dead_here(meta):
                raise LeaseBusy(
                    f"Another ingestion ({meta.get('owner', 'unknown owner')}) is writing to "
                    f"{self.where}; its lease ends in {remaining:.0f} s unless renewed. "
                    "Wait for it to finish and run again."
                )
            log.warning(
                "taking over the ingestion lease of %s on %s (%s)",
                meta.get("owner", "unknown owner"),
                self.where,
                "owner is gone" if remaining > 0 else "expired",
            )
            self._remove(current)
        raise LeaseBusy(f"Could not take the ingestion lease on {self.where}; try again.")

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._lost.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renew", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except LeaseLost:
                log.error("lost the ingestion lease on %s", self.where)
                return
            except Exception as exc:  # a blip of the server: try again next round
                log.warning("could not renew the ingestion lease on %s: %s", self.where, exc)

    def renew(self) -> None:
        from chromadb.errors import NotFoundError

        held = self._held
        if held is None:
            return
        try:
            current = self.client.get_collection(self.name)
        except NotFoundError:
            current = None
        if current is None or current.id != held.id:
            self._lost.set()
            raise LeaseLost(
                f"The ingestion lease on {self.where} expired and was taken over by another "
                "process; this ingestion stopped. Run it again."
            )
        held.modify(metadata=self._meta())

    def check(self) -> None:
        """Raise ``LeaseLost`` if the lease was taken over (called between write batches)."""
        if self._lost.is_set():
            raise LeaseLost(
                f"The ingestion lease on {self.where} was taken over by another process; "
                "this ingestion stopped. Run it again."
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        held, self._held = self._held, None
        if held is None or self._lost.is_set():
            return
        with contextlib.suppress(Exception):  # an expired lease is taken over anyway
            self._remove(held)

    @contextlib.contextmanager
    def held(self) -> Iterator[ServerLease]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()
