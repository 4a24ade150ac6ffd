"""The invariants of DESIGN §5, checked on a stack's records and exchange books after faults.

One checker for the fault suite (`tests/faults/`) and the soak (`bench/chaos.py`). It reads the
stack's database with plain SQL through a `rows(sql, *params)` callable ('?' placeholders) and
the exchange books it is given, so it runs in a process that is not the stack's Django (a test
whose own database is another, or the bench without Django). The checks are pure functions of
a `Snapshot`, so each one can be read, and tested, on its own.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.paper.markets import PAPER_MARKETS

Rows = Callable[..., list[tuple[Any, ...]]]

FINAL_WEBHOOK = ("processed", "error", "miss")
FINAL_ORDER = ("filled", "canceled", "rejected", "expired")
OPEN_ON_BOOK = ("open", "new", "partially_filled")
LIVE_RECORD = ("new", "submitting", "open")


@dataclass(frozen=True)
class BookOrder:
    """One order as the exchange holds it."""

    client_order_id: str
    symbol: str  # base asset first: BTC/USDT or BTCUSDT
    status: str  # lower case: open, filled, canceled, expired, rejected


@dataclass(frozen=True)
class Book:
    """What one broker's exchange account holds: total balance per asset and every order it accepted."""

    broker_id: int
    name: str
    balances: dict[str, Decimal]
    orders: tuple[BookOrder, ...]


@dataclass
class Snapshot:
    """Records and books at one moment, after the stack has settled."""

    accepted: dict[str, str]  # trace id → what was sent (for messages)
    webhooks: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    books: dict[int, Book]


@dataclass
class Result:
    """One invariant: its name, whether it held, and the evidence when it did not."""

    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self, *, limit: int = 8) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.name}"
        if self.ok:
            return head
        shown = "\n".join(f"      - {problem}" for problem in self.problems[:limit])
        more = f"\n      … and {len(self.problems) - limit} more" if len(self.problems) > limit else ""
        return f"{head} ({len(self.problems)})\n{shown}{more}"


def _dicts(rows: Rows, sql: str, columns: str) -> list[dict[str, Any]]:
    names = [name.strip().split(".")[-1] for name in columns.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows(sql.format(columns=columns))]


def snapshot_take(*, rows: Rows, accepted: dict[str, str], books: Iterable[Book]) -> Snapshot:
    """Read the records; `books` are the exchange books of the brokers to compare (see `paper_books`,
    `simulator_book`)."""
    webhooks = _dicts(
        rows,
        "SELECT {columns} FROM webhooks_webhook",
        "id, trace_id, stream_id, status, action, symbol, broker_id, error_message",
    )
    orders = _dicts(
        rows,
        "SELECT {columns} FROM webhooks_order",
        "id, client_order_id, broker_id, webhook_id, position_id, symbol, kind, side, type, amount, status, filled",
    )
    positions = _dicts(
        rows,
        "SELECT {columns} FROM webhooks_webhookstate WHERE status = 'open'",
        "id, broker_id, symbol, quantity, stop_loss_price, take_profit_price, protection_mode, book_warning",
    )
    return Snapshot(
        accepted=dict(accepted),
        webhooks=webhooks,
        orders=orders,
        positions=positions,
        books={book.broker_id: book for book in books},
    )


def paper_books(rows: Rows) -> list[Book]:
    """Every paper broker's book as the paper exchange saved it (PaperAccount, PaperOrder)."""
    accounts = rows(
        "SELECT a.id, a.broker_id, b.name, a.balances FROM brokers_paperaccount a "
        "JOIN brokers_broker b ON b.id = a.broker_id"
    )
    books = []
    for account_id, broker_id, name, balances in accounts:
        raw = json.loads(balances) if isinstance(balances, str) else balances
        totals = {
            asset: Decimal(str(value.get("free", 0))) + Decimal(str(value.get("locked", 0)))
            for asset, value in (raw or {}).items()
        }
        orders = tuple(
            BookOrder(client_order_id=client, symbol=symbol, status=str(status).lower())
            for client, symbol, status in rows(
                "SELECT client_order_id, symbol, status FROM brokers_paperorder WHERE account_id = ?", account_id
            )
        )
        books.append(Book(broker_id=int(broker_id), name=str(name), balances=totals, orders=orders))
    return books


def simulator_book(*, broker_id: int, name: str, accounts: list[dict[str, Any]], orders: list[dict[str, Any]]) -> Book:
    """A broker's book on the Binance simulator, from `GET /_sim/accounts` and `GET /_sim/orders?api_key=`
    (both answers filtered to its key by the caller)."""
    balances = {
        asset: Decimal(str(value["total"])) for account in accounts for asset, value in account["balances"].items()
    }
    book_orders = tuple(
        BookOrder(client_order_id=str(order["clientOrderId"]), symbol=str(order["symbol"]), status=_sim_status(order))
        for order in orders
    )
    return Book(broker_id=broker_id, name=name, balances=balances, orders=book_orders)


def _sim_status(order: dict[str, Any]) -> str:
    status = str(order.get("status", "")).lower()
    return "open" if status in ("new", "partially_filled") else status


def _base(symbol: str) -> str:
    """BTC of BTC/USDT, BTC/USDT:USDT or BTCUSDT (the quote is USDT everywhere the suites trade)."""
    if "/" in symbol:
        return symbol.split("/", 1)[0]
    return symbol.removesuffix("USDT")


def _step(base: str) -> Decimal:
    market = PAPER_MARKETS.get(f"{base}/USDT")
    return market.amount_step if market else Decimal("0.00000001")


# The checks ---------------------------------------------------------------------------------


def check_one_row_per_alert(snapshot: Snapshot) -> Result:
    """Every alert answered 200 ends as exactly one Webhook row, processed or error (with a reason)."""
    result = Result("every alert answered 200 has exactly one final Webhook row")
    by_trace = Counter(row["trace_id"] for row in snapshot.webhooks)
    for trace_id, sent in snapshot.accepted.items():
        count = by_trace.get(trace_id, 0)
        if count != 1:
            result.problems.append(f"trace {trace_id}: {count} rows ({sent})")
    for row in snapshot.webhooks:
        if row["status"] not in FINAL_WEBHOOK:
            result.problems.append(f"webhook #{row['id']} {row['action']} {row['symbol']} left {row['status']}")
        elif row["status"] == "error" and not (row["error_message"] or "").strip():
            result.problems.append(f"webhook #{row['id']} {row['action']} {row['symbol']} is error without a reason")
    return result


def check_placed_once(snapshot: Snapshot) -> Result:
    """No client order id recorded or placed twice; no alert with two entries (or two exits);
    every order on an exchange book is one Aristobot recorded."""
    result = Result("no client order id or entry executed twice; every exchange order recorded")
    for client_id, count in Counter(row["client_order_id"] for row in snapshot.orders).items():
        if count > 1:
            result.problems.append(f"client order id {client_id} recorded {count} times")
    per_alert = Counter(
        (row["webhook_id"], row["kind"])
        for row in snapshot.orders
        if row["kind"] in ("entry", "exit") and row["webhook_id"]
    )
    for (webhook_id, kind), count in per_alert.items():
        if count > 1:
            result.problems.append(f"webhook #{webhook_id} has {count} {kind} orders")
    recorded = {(row["broker_id"], row["client_order_id"]) for row in snapshot.orders}
    for book in snapshot.books.values():
        for client_id, count in Counter(order.client_order_id for order in book.orders).items():
            if count > 1:
                result.problems.append(f"broker {book.name}: {count} orders on the exchange with client id {client_id}")
        for order in book.orders:
            if (book.broker_id, order.client_order_id) not in recorded and order.status in ("open", "filled"):
                result.problems.append(
                    f"broker {book.name}: {order.status} order {order.client_order_id} ({order.symbol}) has no record"
                )
    return result


def check_books_match(snapshot: Snapshot) -> Result:
    """For every broker and base asset, the exchange's balance equals the open position within one
    step; no order is open on the exchange that the records call closed."""
    result = Result("exchange balances equal open positions; no order open that the records call closed")
    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for position in snapshot.positions:
        held[(position["broker_id"], _base(position["symbol"]))] += Decimal(str(position["quantity"]))
    status_of = {(row["broker_id"], row["client_order_id"]): row for row in snapshot.orders}
    for book in snapshot.books.values():
        assets = {asset for asset in book.balances if asset != "USDT"} | {
            base for broker_id, base in held if broker_id == book.broker_id
        }
        for asset in sorted(assets):
            balance = book.balances.get(asset, Decimal(0))
            quantity = held.get((book.broker_id, asset), Decimal(0))
            if abs(balance - quantity) > _step(asset):
                result.problems.append(
                    f"broker {book.name} {asset}: exchange holds {balance.normalize()}, "
                    f"open positions {quantity.normalize()}"
                )
        for order in book.orders:
            if order.status != "open":
                continue
            row = status_of.get((book.broker_id, order.client_order_id))
            if row is not None and row["status"] not in LIVE_RECORD:
                result.problems.append(
                    f"broker {book.name}: order {order.client_order_id} ({row['kind']} {order.symbol}) is open "
                    f"on the exchange, recorded {row['status']}"
                )
    return result


def check_protected(snapshot: Snapshot) -> Result:
    """Every open position with a stop-loss or take-profit is protected: by resting orders that are
    live on the exchange (mode `exchange`), or by the engine guard (mode `engine`)."""
    result = Result("every open position is protected (exchange orders live on the book, or engine)")
    for position in snapshot.positions:
        wanted = position["stop_loss_price"] is not None or position["take_profit_price"] is not None
        if not wanted:
            continue
        mode = position["protection_mode"]
        label = f"position #{position['id']} {position['symbol']} (broker {position['broker_id']})"
        if mode == "engine":
            continue
        if mode != "exchange":
            result.problems.append(f"{label}: protection_mode {mode}")
            continue
        protective = [
            row
            for row in snapshot.orders
            if row["position_id"] == position["id"]
            and row["kind"] in ("stop_loss", "take_profit")
            and row["status"] == "open"
        ]
        if not protective:
            result.problems.append(f"{label}: mode exchange but no protective order recorded open")
            continue
        book = snapshot.books.get(position["broker_id"])
        if book is None:
            continue
        on_book = {order.client_order_id: order.status for order in book.orders}
        for row in protective:
            status = on_book.get(row["client_order_id"])
            if status != "open":
                result.problems.append(f"{label}: {row['kind']} {row['client_order_id']} is {status} on the exchange")
    return result


def check_orders_final(snapshot: Snapshot) -> Result:
    """No order is left recorded `new` or `submitting` (sent, answer unknown) once things settle."""
    result = Result("no order left in a non-final state")
    for row in snapshot.orders:
        if row["status"] not in FINAL_ORDER and row["status"] != "open":
            result.problems.append(
                f"order {row['client_order_id']} ({row['kind']} {row['symbol']}, webhook #{row['webhook_id']}) "
                f"left {row['status']}"
            )
    return result


CHECKS = (check_one_row_per_alert, check_placed_once, check_books_match, check_protected, check_orders_final)


def invariants_check(snapshot: Snapshot) -> list[Result]:
    """Every check on one snapshot, in the order of DESIGN §5."""
    return [check(snapshot) for check in CHECKS]


def report(results: list[Result]) -> str:
    return "\n".join(result.line() for result in results)
