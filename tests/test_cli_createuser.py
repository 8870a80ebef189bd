"""`funkwhale createuser` and `funkwhale changepassword` as an operator runs them (a real subprocess)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted

from funkwhale.users.passwords import verify_password

FUNKWHALE = str(Path(sys.executable).with_name("funkwhale"))


@pytest.fixture
def run(servers, clean, tmp_path):
    """Run the funkwhale command against the test database, with `stdin` piped in."""
    env = {
        **os.environ,
        "FUNKWHALE_DATABASE_URL": servers[0],
        "FUNKWHALE_REDIS_URL": servers[1],
        "FUNKWHALE_DATA_DIR": str(tmp_path),
        "FUNKWHALE_HOSTNAME": "music.example.net",
        "FUNKWHALE_PROTOCOL": "https",
    }

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [FUNKWHALE, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
        )

    return run


def users(db_conn) -> list[dict]:
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT u.username, u.email, u.password, u.is_superuser, u.is_staff, u.permission_settings, a.fid "
            "FROM users u JOIN actor a ON a.id = u.actor_id ORDER BY u.id"
        )
        return cur.fetchall()


def test_createuser_reads_the_password_from_stdin_and_refuses_duplicates(run, db_conn):
    result = run(
        "createuser", "root", "--email", "root@example.net", "--superuser", stdin="s3cret-pass\ns3cret-pass\n"
    )
    assert result.returncode == 0, result.stderr
    assert "root" in result.stdout
    result = run("createuser", "carol", "--email", "carol@example.net", stdin="carol-pass-1\ncarol-pass-1\n")
    assert result.returncode == 0, result.stderr
    root, carol = users(db_conn)
    assert root["is_superuser"] and root["is_staff"] and root["permission_settings"]
    assert root["fid"] == "https://music.example.net/federation/actors/root"
    assert verify_password(root["password"], "s3cret-pass")[0]
    assert not carol["is_superuser"] and not carol["is_staff"]

    result = run("createuser", "ROOT", "--email", "other@example.net", stdin="s3cret-pass\ns3cret-pass\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "funkwhale: username: A user with that username already exists."
    assert len(users(db_conn)) == 2


def test_createuser_refuses_mismatched_or_weak_passwords_and_bad_names(run, db_conn):
    result = run("createuser", "dave", "--email", "dave@example.net", stdin="long-password\nother-password\n")
    assert result.returncode == 1 and "didn't match" in result.stderr
    result = run("createuser", "dave", "--email", "dave@example.net", stdin="1234\n1234\n")
    assert result.returncode == 1 and "too short" in result.stderr
    result = run("createuser", "da ve", "--email", "dave@example.net", stdin="long-password\nlong-password\n")
    assert result.returncode == 1 and "username" in result.stderr
    assert users(db_conn) == []


@pytest_twisted.ensureDeferred
async def test_a_created_user_logs_in_over_http_and_changepassword_ends_sessions(run, server, db_conn):
    from twisted.internet.threads import deferToThread

    result = await deferToThread(
        run, "createuser", "erin", "--email", "erin@example.net", stdin="first-pass-1\nfirst-pass-1\n"
    )
    assert result.returncode == 0, result.stderr
    client = server.client()
    await client.login("erin", "first-pass-1")
    result = await deferToThread(run, "changepassword", "erin", stdin="second-pass-2\nsecond-pass-2\n")
    assert result.returncode == 0, result.stderr
    assert (await client.get("/api/v1/users/me/")).code == 401
    await server.client().login("erin", "second-pass-2")
    result = await deferToThread(run, "changepassword", "nobody", stdin="second-pass-2\nsecond-pass-2\n")
    assert result.returncode == 1 and "no user named nobody" in result.stderr


def test_the_command_keeps_the_data_directory_private(run, tmp_path):
    os.chmod(tmp_path, 0o755)  # as older versions left it
    result = run("config")
    assert result.returncode == 0, result.stderr
    assert "FUNKWHALE_UMASK=077" in result.stdout
    assert "FUNKWHALE_WORKER_PROCESSES=0,2" in result.stdout  # as the variable takes it: the role's default
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
