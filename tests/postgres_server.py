"""A real PostgreSQL server (Debian's postgresql package) in a temp dir on a free loopback port, for tests.

    with postgres_server() as url:      # postgresql://emopulse:<password>@127.0.0.1:<port>/emopulse
        ...

Password auth (scram-sha-256) for every connection, so the URL carries a password the tests can
look for in messages. PostgreSQL refuses to run as root: as root it runs as the `postgres` user."""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from emopulse.stack import free_port

USER = DATABASE = "emopulse"


def pg_bin() -> Path:
    """The newest installed server's bin dir; fails (never skips) when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(shutil.which("initdb")).parent
    pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: "
                "`make deps` installs Debian's postgresql package")


@contextlib.contextmanager
def postgres_server(timeout: float = 60) -> Iterator[str]:
    """Start it (initdb, pg_ctl start, CREATE DATABASE); yield its URL; always stop it and remove its dir."""
    import psycopg
    bin_dir = pg_bin()
    as_root = os.geteuid() == 0
    work = Path(tempfile.mkdtemp(prefix="emopulse-pg-"))
    data, sock, log = work / "data", work / "sock", work / "postgres.log"
    password = secrets.token_urlsafe(16)          # URL-safe: no quoting in the URL
    (work / "pwfile").write_text(password + "\n")
    sock.mkdir()
    if as_root:                                   # the postgres user owns everything it touches
        account = pwd.getpwnam("postgres")
        for path in (work, sock, work / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)

    def pg(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(bin_dir / argv[0]), *argv[1:]]
        if as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            server_log = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            pytest.fail(f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n{server_log}")
        return proc

    started = False
    try:
        pg("initdb", "-D", str(data), "-U", USER, "-A", "scram-sha-256", f"--pwfile={work / 'pwfile'}",
           "-E", "UTF8", "--no-locale", "--no-sync")
        port = free_port()
        started = True
        # fsync off: a test server's data is thrown away anyway
        pg("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", str(int(timeout)),
           "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        base = f"postgresql://{USER}:{password}@127.0.0.1:{port}"
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"{base}/{DATABASE}"
    finally:
        if started:
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(work, ignore_errors=True)
