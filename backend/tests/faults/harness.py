"""A whole stack under faults, shared by the fault suite (`tests/faults/`) and the soak
(`bench/chaos.py`): its own Redis (AOF `always`), database, receiver, engine(s), gateway and a
Binance simulator; traders with paper brokers and one broker on the simulator through real
ccxt; random alerts; the faults; and the invariant check of `apps.core.invariants`.

Processes are started by `tests.e2e.stack` (the one launcher of the test suites).
"""

from __future__ import annotations

import json
import random
import signal
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import requests

from apps.core.invariants import Book, Result, invariants_check, paper_books, simulator_book, snapshot_take
from apps.core.ports import free_port
from tests.e2e.stack import Database, RedisServer, Stack

SIM_KEY = "FaultSuiteKey" + "k" * 51
SIM_SECRET = "FaultSuiteSecret" + "s" * 48
SIM_USDT = 50_000

# Ten symbols and a starting price each (the paper exchange and the simulator know them all).
PRICES: dict[str, Decimal] = {
    "BTCUSDT": Decimal(40000),
    "ETHUSDT": Decimal(2000),
    "SOLUSDT": Decimal(150),
    "BNBUSDT": Decimal(600),
    "XRPUSDT": Decimal("0.6"),
    "ADAUSDT": Decimal("0.4"),
    "DOGEUSDT": Decimal("0.1"),
    "LTCUSDT": Decimal(80),
    "LINKUSDT": Decimal(15),
    "AVAXUSDT": Decimal(30),
}

# What the seed makes: a second user, a second paper broker, a broker on the simulator.
_SEED = """
import json
from django.contrib.auth import get_user_model
from apps.brokers.models import Broker
from apps.webhooks.models import WebhookToken
users = get_user_model().objects
demo = users.get(username="demo")
sim, _ = Broker.objects.get_or_create(
    user=demo, name="Sim", defaults=dict(exchange="binance", type_de_trading="Webhooks", api_base_url=SIM_URL)
)
sim.set_credentials(api_key=SIM_KEY, api_secret=SIM_SECRET)
sim.save()
other, _ = users.get_or_create(username="trader2")
paper2, _ = Broker.objects.get_or_create(
    user=other, name="Paper 2", defaults=dict(exchange="paper", type_de_trading="Webhooks", is_default=True)
)
_record, token = WebhookToken.issue(user=other, label="faults")
print(json.dumps({"sim": sim.pk, "trader2": other.pk, "paper2": paper2.pk, "token2": token, "demo": demo.pk}))
"""


@dataclass(frozen=True)
class Account:
    """A broker an alert can name, with its owner's token."""

    broker_id: int
    name: str
    user_id: int
    token: str
    simulated: bool  # on the Binance simulator (else paper)


@dataclass
class Sent:
    """What the alert stream sent and what the receiver answered."""

    accepted: dict[str, str] = field(default_factory=dict)  # trace id → description
    refused: int = 0  # 503 (Redis down) after every retry, or another status
    by_status: dict[int, int] = field(default_factory=dict)


class FaultStack:
    """The processes, their Redis and the simulator; `stop()` ends everything it started."""

    def __init__(self, tmp: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.redis = RedisServer(tmp)
        self.redis.start()
        self.database = Database(tmp)
        self.sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        env = {
            "WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
            "ALERT_DEDUP_WINDOW_SECONDS": "60",
            "GATEWAY_TIMEOUT_SECONDS": "6",
            # The simulator listens on loopback: allowed as a broker's base URL (issue 11 item 8).
            "EXCHANGE_BASE_URL_ALLOWLIST": self.sim_url,
            "EXCHANGE_API_BASE_URL_ALLOWLIST": self.sim_url,
            **(extra_env or {}),
        }
        self.stack = Stack(tmp=tmp, redis_url=self.redis.url, database=self.database, extra_env=env)
        prices = [f"--price={symbol}={price}" for symbol, price in PRICES.items()]
        self.stack.commands["simulator"] = [
            "-m",
            "simulators.binance",
            "--port",
            str(self.sim_port),
            "--api-key",
            SIM_KEY,
            "--api-secret",
            SIM_SECRET,
            f"--balance=USDT={SIM_USDT}",
            *prices,
        ]
        self.accounts: list[Account] = []
        self.prices = dict(PRICES)
        self.session = requests.Session()

    # Setting up -----------------------------------------------------------------------------

    def setup(self, *, engines: int = 1) -> None:
        """Migrate, seed the traders and brokers, start the simulator, gateway, engine(s), receiver."""
        self.stack.manage("migrate", "--noinput")
        seeded = self.stack.manage("seed_demo")
        token = seeded.split("/webhook/", 1)[1].split()[0]
        paper = int(seeded.split("paper broker 'Paper' (id ", 1)[1].split(")")[0])
        code = _SEED.replace("SIM_URL", repr(self.sim_url)).replace("SIM_KEY", repr(SIM_KEY))
        code = code.replace("SIM_SECRET", repr(SIM_SECRET))
        ids = json.loads(self.stack.manage("shell", "-c", code).strip().splitlines()[-1])
        self.accounts = [
            Account(paper, "Paper", ids["demo"], token, simulated=False),
            Account(ids["sim"], "Sim", ids["demo"], token, simulated=True),
            Account(ids["paper2"], "Paper 2", ids["trader2"], ids["token2"], simulated=False),
        ]
        self.stack.start("simulator")
        self.wait_for(self._simulator_up, timeout=30, what="the exchange simulator")
        self.stack.start("gateway")
        for n in range(engines):
            self.stack.start("engine" if n == 0 else f"engine{n + 1}")
        self.stack.start("receiver")
        self.wait_for(self.receiver_healthy, timeout=30, what="receiver health")

    def _simulator_up(self) -> bool:
        try:
            return self.session.get(f"{self.sim_url}/_sim/faults", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def receiver_healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.stack.receiver_port}/health"
            return self.session.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.stack.stop()
        self.redis.stop()
        self.database.drop()

    # Alerts ---------------------------------------------------------------------------------

    def send(self, account: Account, alert: dict[str, Any], sent: Sent, *, retries: int = 3) -> str | None:
        """POST one alert as TradingView does (resent up to 3 times on a 5xx); the trace id when answered 200."""
        url = f"http://127.0.0.1:{self.stack.receiver_port}/webhook/{account.token}"
        body = json.dumps(alert)
        status = 0
        for attempt in range(retries + 1):
            try:
                answer = self.session.post(url, data=body, timeout=3, headers={"Content-Type": "text/plain"})
                status = answer.status_code
            except requests.RequestException:
                status = 599
            sent.by_status[status] = sent.by_status.get(status, 0) + 1
            if status == 200:
                trace_id = str(answer.json()["trace_id"])
                sent.accepted[trace_id] = f"{alert.get('Action')} {alert.get('Symbol')} broker {account.name}"
                return trace_id
            if status < 500 or attempt == retries:
                break
            time.sleep(0.3)
        sent.refused += 1
        return None

    def alert_random(self, rng: random.Random, n: int) -> tuple[Account, dict[str, Any]]:
        """One alert of a random action, account and symbol, with stop-loss and take-profit around
        the symbol's price (so that an OCO is valid: target > price > stop)."""
        account = rng.choice(self.accounts)
        symbol = rng.choice(list(self.prices))
        price = self.prices[symbol]
        action = rng.choices(
            ["BuyMarket", "BuyLimit", "SellMarket", "SellLimit", "MAJ", "PING"], weights=[35, 10, 25, 8, 17, 5]
        )[0]
        alert: dict[str, Any] = {"ID": f"chaos-{n}-{rng.randrange(10**9)}", "Symbol": symbol, "Action": action}
        alert["UserExchangeID"] = account.broker_id
        alert["Interval"] = "1"
        if action.startswith("Buy"):
            alert["PourCent"] = str(rng.choice([2, 3, 5, 8]))
            limit = price * Decimal("0.995" if rng.random() < 0.5 else "1.01")
            alert["Prix"] = _sig(limit if action == "BuyLimit" else price)
            alert["PrixSL"] = _sig(price * Decimal("0.85"))
            alert["PrixTP"] = _sig(price * Decimal("1.15"))
        elif action.startswith("Sell"):
            alert["PourCent"] = str(rng.choice([50, 100, 100]))
            alert["Prix"] = _sig(price * Decimal("1.005") if action == "SellLimit" else price)
        elif action == "MAJ":
            alert["Prix"] = _sig(price)
            alert["PrixSL"] = _sig(price * Decimal(rng.choice(["0.8", "0.88"])))
            alert["PrixTP"] = _sig(price * Decimal(rng.choice(["1.12", "1.2"])))
        return account, alert

    # Faults ---------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL one process of the stack (gateway, engine, engine2, receiver)."""
        self.stack.kill(name, signal.SIGKILL)

    def redis_restart(self, *, down_seconds: float = 0.5) -> None:
        """SIGKILL Redis and start it again from its AOF."""
        self.redis.kill(signal.SIGKILL)
        time.sleep(down_seconds)
        self.redis.start()

    def sim_faults(self, **faults: Any) -> None:
        """Arm faults on the Binance simulator (rate_limit, timeout_after_accept, latency_ms, status_5xx)."""
        requests.post(f"{self.sim_url}/_sim/faults", json=faults, timeout=5).raise_for_status()

    def sim_price(self, symbol: str, last: Decimal) -> None:
        self.prices[symbol] = last
        payload = {"symbol": symbol, "last": str(last)}
        requests.post(f"{self.sim_url}/_sim/price", json=payload, timeout=5).raise_for_status()

    # Waiting and checking -------------------------------------------------------------------

    def wait_for(self, condition: Any, *, timeout: float, what: str) -> None:
        self.stack.wait_until(condition, timeout=timeout, what=what)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.stack.database.rows(sql, *params)

    def webhook_status(self, trace_id: str) -> str | None:
        found = self.rows("SELECT status FROM webhooks_webhook WHERE trace_id = ?", trace_id)
        return str(found[0][0]) if found else None

    def unsettled(self, sent: Sent) -> list[str]:
        """What still moves: alerts without a final row, orders whose answer is unknown, entries pending."""
        waiting = []
        final = {
            row[0] for row in self.rows("SELECT trace_id FROM webhooks_webhook WHERE status IN ('processed','error')")
        }
        missing = [trace for trace in sent.accepted if trace not in final]
        if missing:
            waiting.append(f"{len(missing)} alert(s) without a final row")
        busy = self.rows("SELECT count(*) FROM webhooks_order WHERE status IN ('new', 'submitting')")[0][0]
        if busy:
            waiting.append(f"{busy} order(s) new or submitting")
        if behind := self.fills_not_yet_reconciled():
            waiting.append(f"{behind} order(s) settled on the simulator that the records still call open")
        client = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        try:
            from apps.webhooks.engine.groups import engine_pending

            for stream in ("webhook_raw", "exchange_events"):
                if pending := engine_pending(client, stream):
                    waiting.append(f"{pending} {stream} entr(ies) pending in the engine")
        except redis.RedisError as exc:
            waiting.append(f"Redis: {exc}")
        finally:
            client.close()
        return waiting

    def fills_not_yet_reconciled(self) -> int:
        """Live orders the simulator has settled that the engine has not heard of yet: live
        exchanges announce nothing, so the engine learns of them on its next reconciliation pass."""
        if not any(account.simulated for account in self.accounts):
            return 0
        try:
            books = self.books()
        except requests.RequestException:
            return 0
        settled = {
            order.client_order_id
            for book in books
            for order in book.orders
            if book.broker_id in self.simulated_broker_ids and order.status != "open"
        }
        recorded_open = self.rows(
            "SELECT client_order_id, broker_id FROM webhooks_order WHERE status = 'open' AND NOT paper"
        )
        return sum(
            1
            for client_id, broker_id in recorded_open
            if client_id in settled and broker_id in self.simulated_broker_ids
        )

    @property
    def simulated_broker_ids(self) -> set[int]:
        return {account.broker_id for account in self.accounts if account.simulated}

    def settle(self, sent: Sent, *, timeout: float = 60.0) -> list[str]:
        """Wait until nothing moves (or `timeout`); returns what still moved then."""
        deadline = time.monotonic() + timeout
        waiting = self.unsettled(sent)
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            waiting = self.unsettled(sent)
            if waiting:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.0:  # the paper store writes just behind its answers
                return []
            time.sleep(0.25)
        return waiting

    def books(self) -> list[Book]:
        """Every broker's exchange book: the paper brokers' as saved, the simulator's as it holds it."""
        books = [book for book in paper_books(self.rows) if book.broker_id in {a.broker_id for a in self.accounts}]
        for account in self.accounts:
            if not account.simulated:
                continue
            accounts = self.session.get(f"{self.sim_url}/_sim/accounts", timeout=5).json()
            orders = self.session.get(f"{self.sim_url}/_sim/orders", params={"api_key": SIM_KEY}, timeout=5).json()
            mine = [item for item in accounts if item["api_key"] == SIM_KEY]
            books.append(
                simulator_book(broker_id=account.broker_id, name=account.name, accounts=mine, orders=orders["orders"])
            )
        return books

    def check(self, sent: Sent) -> list[Result]:
        """The invariants on the records and books as they are now."""
        return invariants_check(snapshot_take(rows=self.rows, accepted=sent.accepted, books=self.books()))

    def summary(self) -> str:
        """What the run did, in figures: alerts by status, orders by kind and status, open positions."""
        webhooks = self.rows("SELECT status, count(*) FROM webhooks_webhook GROUP BY status ORDER BY status")
        orders = self.rows(
            "SELECT kind, status, count(*) FROM webhooks_order GROUP BY kind, status ORDER BY kind, status"
        )
        positions = self.rows(
            "SELECT protection_mode, count(*) FROM webhooks_webhookstate WHERE status='open' GROUP BY protection_mode"
        )
        closed = self.rows("SELECT count(*) FROM webhooks_webhookstate WHERE status='closed'")[0][0]
        return (
            "alerts: " + ", ".join(f"{status} {count}" for status, count in webhooks) + "\n"
            "orders: " + ", ".join(f"{kind}/{status} {count}" for kind, status, count in orders) + "\n"
            "positions: open " + ", ".join(f"{mode} {count}" for mode, count in positions) + f"; closed {closed}"
        )

    def log_excerpt(self, *needles: str, limit: int = 20) -> list[str]:
        """Log lines of every process that mention one of `needles` (evidence for a report)."""
        found = []
        for path in sorted(self.tmp.glob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if any(needle in line for needle in needles):
                    found.append(f"{path.stem}: {line[:300]}")
                    if len(found) >= limit:
                        return found
        return found


def _sig(value: Decimal) -> str:
    """A price with 6 significant digits, as a chart shows it."""
    return format(value.quantize(Decimal(1)) if value >= 1000 else Decimal(f"{value:.6g}"), "f")
