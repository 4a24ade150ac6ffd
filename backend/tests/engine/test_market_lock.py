"""The market lock: one piece of work on a broker's market at a time, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from apps.webhooks.engine import market_lock
from apps.webhooks.engine.market_lock import MarketLocks
from trading.errors import TemporaryError

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_thread_waits_for_the_market_and_other_markets_do_not():
    locks = MarketLocks()
    order: list[str] = []
    with locks.hold(1, "BTC/USDT"):
        other = threading.Thread(target=lambda: _note(locks, 1, "BTC/USDT", order, "second"))
        free = threading.Thread(target=lambda: _note(locks, 1, "ETH/USDT", order, "other market"))
        other.start()
        free.start()
        free.join(5)
        time.sleep(0.1)
        order.append("first done")
    other.join(5)
    assert order == ["other market", "first done", "second"]


def test_the_lock_is_reentrant_in_its_thread():
    locks = MarketLocks()
    with locks.hold(1, "BTC/USDT"), locks.hold(1, "BTC/USDT"):
        pass
    with locks.hold(1, "BTC/USDT"):  # released for good after the outer block
        pass


def test_a_market_held_in_another_process_is_waited_for_then_refused_as_temporary(monkeypatch):
    """Another engine process holds the market (the database's advisory lock or the file lock
    beside SQLite); this one waits, and past the bound the work is retried later."""
    holder = _pg_holder() if connection.vendor == "postgresql" else _file_holder()
    try:
        monkeypatch.setattr(market_lock, "LOCK_WAIT_SECONDS", 0.3)
        with pytest.raises(TemporaryError, match="busy"), MarketLocks().hold(7, "BTC/USDT"):
            pass
    finally:
        holder.terminate()
        holder.wait(5)
    with MarketLocks().hold(7, "BTC/USDT"):  # freed when its holder died
        pass


def _note(locks: MarketLocks, broker: int, symbol: str, order: list[str], name: str) -> None:
    with locks.hold(broker, symbol):
        order.append(name)


def _file_holder() -> subprocess.Popen[bytes]:
    path = f"{connection.settings_dict['NAME']}.market-locks"
    offset = market_lock._key_number("7:BTC/USDT") % market_lock._FILE_SLOTS
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        f"fcntl.lockf(fd, fcntl.LOCK_EX, 1, {offset}, os.SEEK_SET)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    return _started([sys.executable, "-c", code])


def _pg_holder() -> subprocess.Popen[bytes]:
    settings = connection.settings_dict
    number = market_lock._key_number("7:BTC/USDT")
    code = (
        "import psycopg, time\n"
        f"c = psycopg.connect(host={settings['HOST']!r}, port={str(settings['PORT'])!r}, "
        f"user={settings['USER']!r}, password={settings['PASSWORD']!r}, dbname={settings['NAME']!r}, autocommit=True)\n"
        f"c.execute('SELECT pg_advisory_lock(%s, %s)', [{market_lock._NAMESPACE}, {number}])\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    return _started([sys.executable, "-c", code])


def _started(command: list[str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"held"
    return process
