"""A real PostgreSQL server for tests and benchmarks: an ``initdb`` cluster in a temporary
folder, listening on a free loopback port only, stopped and deleted at the end.

Debian's ``postgresql-15`` (``.ci/run`` installs it when missing). ``initdb`` refuses to run
as root, so under root the cluster belongs to the ``postgres`` user and its commands run as
that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from assistant.settings import Settings
from tests.support.servers import free_port


def binaries() -> Path | None:
    """The folder of initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").is_file():
            return Path(folder)
    return None


def _as_owner() -> list[str]:
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")  # KeyError: no postgres user to run the cluster as
    return ["runuser", "-u", "postgres", "--"]


@contextlib.contextmanager
def postgres_server(timeout: float = 60) -> Iterator[str]:
    """Start a cluster; yields the URL of its ``postgres`` database (user ``postgres``,
    trusted on loopback: there is no password)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql-15)")
    run_as = _as_owner()
    folder = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    data = folder / "data"
    if run_as:
        shutil.chown(folder, "postgres")
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, capture_output=True, timeout=timeout)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")  # fmt: skip
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=200"
        )
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
            "-l", str(folder / "server.log"), "-w", "-t", str(int(timeout)), "start")  # fmt: skip
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=timeout,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def pg_settings(tmp: Path, database_url: str, **kw: object) -> Settings:
    """Settings of an assistant under ``tmp`` whose catalog is in ``database_url``."""
    return Settings(
        index_dir=tmp / "index",
        corpus_dir=tmp / "corpus",
        database_url=database_url,
        **kw,  # type: ignore[arg-type]
    )
