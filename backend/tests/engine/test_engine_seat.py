"""The engine seat: one active engine at a time, freed by the database or the kernel the
moment its holder dies, never by a timer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from django.db import connection

from apps.webhooks.engine.seat import EngineSeat


def test_a_second_engine_of_the_same_process_does_not_take_a_held_seat(db):
    first, second = EngineSeat(), EngineSeat()
    assert first.take()
    assert not second.take()
    first.release()
    assert second.take()
    second.release()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock of PostgreSQL")
def test_on_postgresql_the_seat_is_free_the_moment_its_holders_session_ends(db):
    holder, standby = EngineSeat(), EngineSeat()
    assert holder.take()
    try:
        # As another process would: only the database decides (not this process's registry).
        assert not standby._take_advisory()
        holder._session.close()  # the holder dies: its connection goes, and the lock with it
        started = time.monotonic()
        while not standby._take_advisory():
            assert time.monotonic() - started < 1.0, "the seat stayed taken after its session ended"
            time.sleep(0.01)
        assert not holder.check(), "the holder sees it lost the seat before its next batch"
    finally:
        holder.release()
        standby.release()
        standby._drop()


def test_on_sqlite_the_seat_is_a_record_lock_freed_when_its_process_is_killed(tmp_path):
    database = tmp_path / "db.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys, time
                fd = os.open({str(database) + ".engine-seat"!r}, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_SET)
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        seat = EngineSeat()
        path = str(database) + ".engine-seat"
        assert not seat._take_record(path)
        holder.kill()
        holder.wait()
        started = time.monotonic()
        while not seat._take_record(path):
            assert time.monotonic() - started < 1.0
            time.sleep(0.01)
        seat.release()
    finally:
        holder.kill()
