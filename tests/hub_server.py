"""A throw-away PostgreSQL server on a Unix socket, for the hub tests and benchmarks.

initdb refuses to run as root: as root, the cluster is made and run by the `postgres`
user in a folder it owns. No TCP port is opened (listen_addresses=''), so runs never clash.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

PASSWORD_GROUP = "carehub_password_auth"


def _bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql); "
                           "bash scripts/setup.sh installs it")
    return Path(found[-1]).parent


class PgServer:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="carehub-pg-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log = self.base / "server.log"
        self.bindir = _bindir()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> PgServer:
        self.socket_dir.mkdir()
        if self.as_root:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        # Members of this group role must give a password (the keyring tests); the others
        # are trusted on the socket.
        hba = self.data / "pg_hba.conf"
        hba_text = hba.read_text()
        hba.write_text(f"local all +{PASSWORD_GROUP} scram-sha-256\n" + hba_text)
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.log), "-o", options,
                  "start")
        self.execute(f"CREATE ROLE {PASSWORD_GROUP} NOLOGIN")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def execute(self, sql: str, params: Any = None, *, database: str = "postgres") -> None:
        with psycopg.connect(self.url("postgres", database), autocommit=True) as conn:
            conn.execute(sql, params)

    def query(self, sql: str, params: Any = None, *, database: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url("postgres", database), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()
