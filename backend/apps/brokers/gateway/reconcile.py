"""Every broker's book (paper and live) compared with the order records and the positions.

Run by the gateway when it starts, in each broker's queue (after the requests a killed gateway
left unanswered, before new ones), and the balance check again every few minutes. The gateway
gathers both sides and acts; what differs is decided by `trading.books`:

- an order open on the book that the records call final is cancelled on the book;
- a recorded order whose book state differs (filled, cancelled, unknown) is published on
  `exchange_events`, where the engine applies it and does its follow-ups (protection);
- a base balance that differs from the open positions by more than a market step is written to
  `WebhookState.book_warning` (shown on the dashboard), and cleared once it agrees again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.brokers.models import PAPER_EXCHANGE, Broker, PaperAccount
from apps.core.streams import RECONCILED_SEEN
from apps.webhooks.models import Order, PositionStatus, WebhookState, WebhookStatus
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.books import SENT, BalanceCheck, OrderRepairs, RecordedOrder, balances_compare, orders_compare
from trading.errors import OrderNotFound, TradingError
from trading.exchange import Exchange
from trading.orders import OrderKind, OrderSide, OrderState, OrderStatus, OrderType

logger = logging.getLogger(__name__)

RECENT_SYMBOLS = timedelta(days=7)  # live books: symbols traded this recently are looked at
SETTLE_MARGIN_SECONDS = 5  # beyond the gateway timeout: a request this old is answered or dropped
UNFINISHED_ALERTS = (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING)

Publish = Callable[[int, list[OrderState]], Awaitable[None]]


@dataclass(frozen=True)
class Book:
    """One broker's account on one venue: its paper book or its live account."""

    broker_id: int
    paper: bool

    def orders(self) -> Q:
        """The order records that belong to this book."""
        on_paper = Q(broker__exchange=PAPER_EXCHANGE) | Q(paper=True)
        return Q(broker_id=self.broker_id) & (on_paper if self.paper else ~on_paper)

    def positions(self) -> Q:
        on_paper = Q(broker__exchange=PAPER_EXCHANGE) | Q(paper=True)
        return Q(broker_id=self.broker_id) & (on_paper if self.paper else ~on_paper)


def books_to_reconcile() -> list[Book]:
    """Every paper account, and every live broker with orders still open or positions open."""
    books = [Book(broker_id, True) for broker_id in PaperAccount.objects.values_list("broker_id", flat=True)]
    live = Broker.objects.exclude(exchange=PAPER_EXCHANGE)
    live_ids = set(
        Order.objects.filter(broker__in=live, paper=False, status__in=SENT).values_list("broker_id", flat=True)
    )
    live_ids |= set(
        WebhookState.objects.filter(broker__in=live, paper=False, status=PositionStatus.OPEN).values_list(
            "broker_id", flat=True
        )
    )
    return books + [Book(broker_id, False) for broker_id in sorted(live_ids)]


# Orders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    record: RecordedOrder
    kind: str
    side: str
    type: str
    amount: Decimal
    exchange_order_id: str
    updated_at: datetime


def _records(book: Book, *, client_order_ids: set[str]) -> dict[str, _Row]:
    """The book's orders still sent (submitting, open) and those named in `client_order_ids`."""
    settled_before = timezone.now() - timedelta(seconds=settings.GATEWAY_TIMEOUT_SECONDS + SETTLE_MARGIN_SECONDS)
    rows = (
        Order.objects.filter(book.orders())
        .filter(Q(status__in=SENT) | Q(client_order_id__in=client_order_ids))
        .values_list(
            "client_order_id",
            "symbol",
            "status",
            "filled",
            "updated_at",
            "webhook__status",
            "kind",
            "side",
            "type",
            "amount",
            "exchange_order_id",
        )
    )
    found: dict[str, _Row] = {}
    for cid, symbol, status, filled, updated, alert, kind, side, type_, amount, exchange_id in rows:
        # An order whose alert is still being handled, or sent too recently, may still be on its
        # way: its caller (who looks it up by client order id) decides, not this reconciliation.
        settled = updated < settled_before and alert not in UNFINISHED_ALERTS
        record = RecordedOrder(cid, symbol, OrderStatus(status), Decimal(filled), settled=settled)
        found[cid] = _Row(record, kind, side, type_, Decimal(amount), exchange_id, updated)
    return found


def _live_symbols(book: Book) -> set[str]:
    """Symbols a live book may have Aristobot's orders open on."""
    recent = timezone.now() - RECENT_SYMBOLS
    orders = Order.objects.filter(book.orders()).filter(Q(status__in=SENT) | Q(updated_at__gte=recent))
    positions = WebhookState.objects.filter(book.positions(), status=PositionStatus.OPEN)
    return set(orders.values_list("symbol", flat=True)) | set(positions.values_list("symbol", flat=True))


def _missing_state(row: _Row) -> OrderState:
    """What the engine is told about an order the book does not know: a protective order is
    gone (cancelled, so the engine protects again); an entry or exit never arrived (rejected)."""
    record = row.record
    protective = row.kind in (OrderKind.STOP_LOSS, OrderKind.TAKE_PROFIT)
    status = OrderStatus.CANCELED if protective or record.status == OrderStatus.OPEN else OrderStatus.REJECTED
    return OrderState(
        id=row.exchange_order_id,
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=OrderSide(row.side),
        type=OrderType(row.type),
        status=status,
        amount=row.amount,
        filled=record.filled,
        # The row as seen: if the engine changes it before this report is applied (places a
        # protection again under this row), the report is outdated and ignored.
        raw={
            "reconciled": "the exchange has no order with this client order id",
            RECONCILED_SEEN: row.updated_at.isoformat(),
        },
    )


async def book_orders_reconcile(book: Book, exchange: Exchange, publish: Publish) -> OrderRepairs:
    """Compare the book's orders with the records; cancel, publish; returns what was found."""
    if book.paper:
        book_open = await exchange.fetch_open_orders(None)
    else:
        book_open = []
        for symbol in sorted(await sync_to_async(_live_symbols, thread_sensitive=True)(book)):
            book_open += await exchange.fetch_open_orders(symbol)
    rows = await sync_to_async(_records, thread_sensitive=True)(
        book, client_order_ids={state.client_order_id for state in book_open}
    )
    looked_up: dict[str, OrderState | None] = {}
    for cid, row in rows.items():
        if row.record.status not in SENT:
            continue
        try:
            looked_up[cid] = await exchange.fetch_order(symbol=row.record.symbol, client_order_id=cid)
        except OrderNotFound:
            looked_up[cid] = None
        except TradingError as exc:
            logger.warning("broker #%s: %s not looked up at start: %s", book.broker_id, cid, exc)
    repairs = orders_compare(
        records={cid: row.record for cid, row in rows.items()}, book_open=book_open, looked_up=looked_up
    )
    for state in repairs.cancel:
        try:
            await exchange.cancel_order(symbol=state.symbol, client_order_id=state.client_order_id)
            logger.warning(
                "broker #%s: cancelled %s on the %s book: the records call it %s",
                book.broker_id,
                state.client_order_id,
                "paper" if book.paper else "live",
                rows[state.client_order_id].record.status,
            )
        except TradingError as exc:
            logger.error("broker #%s: could not cancel %s: %s", book.broker_id, state.client_order_id, exc)
    reports = sorted(repairs.report, key=lambda state: state.status != OrderStatus.FILLED)
    reports += [_missing_state(rows[record.client_order_id]) for record in repairs.missing]
    for state in reports:
        logger.warning(
            "broker #%s: %s is %s on the book, %s in the records: reported to the engine",
            book.broker_id,
            state.client_order_id,
            "unknown" if state.raw.get("reconciled") else state.status,
            rows[state.client_order_id].record.status,
        )
    await publish(book.broker_id, reports)
    return repairs


# Balances ----------------------------------------------------------------------------------


def _quantities(book: Book, held_symbols: set[str]) -> dict[str, Decimal]:
    """Open quantity per symbol: open positions, positions showing a warning (0 unless open),
    and `held_symbols` the book holds coins of, where Aristobot ever had a position."""
    positions = WebhookState.objects.filter(book.positions())
    quantities: dict[str, Decimal] = {}
    for symbol, quantity in positions.filter(status=PositionStatus.OPEN).values_list("symbol", "quantity"):
        quantities[symbol] = quantities.get(symbol, Decimal(0)) + Decimal(quantity)
    others = positions.exclude(book_warning="").values_list("symbol", flat=True)
    held = positions.filter(symbol__in=held_symbols).values_list("symbol", flat=True) if not book.paper else []
    for symbol in [*others, *held, *(held_symbols if book.paper else [])]:
        quantities.setdefault(symbol, Decimal(0))
    return quantities


def _warnings_write(book: Book, checks: list[BalanceCheck]) -> int:
    """Write each verdict on the symbol's open position (else its latest one); returns how many
    changed. One query when nothing changes (this runs every minute for every book)."""
    rows: dict[str, list[WebhookState]] = {}
    relevant = Q(status=PositionStatus.OPEN) | ~Q(book_warning="")
    for row in WebhookState.objects.filter(book.positions(), relevant, symbol__in=[c.symbol for c in checks]):
        rows.setdefault(row.symbol, []).append(row)
    changed: list[WebhookState] = []
    for check in checks:
        shown = rows.get(check.symbol, [])
        target: WebhookState | None = None
        if check.warning:
            target = next((row for row in shown if row.status == PositionStatus.OPEN), None)
            target = target or WebhookState.objects.filter(book.positions(), symbol=check.symbol).first()
            if target is None:
                logger.warning(
                    "broker #%s %s: %s (no position to show it on)", book.broker_id, check.symbol, check.warning
                )
                continue
            if target.book_warning != check.warning:
                logger.warning("broker #%s %s: %s", book.broker_id, check.symbol, check.warning)
                target.book_warning = check.warning
                changed.append(target)
        elif any(row.book_warning for row in shown):
            logger.info("broker #%s %s: the balance agrees with the position again", book.broker_id, check.symbol)
        for row in shown:
            if row.book_warning and (target is None or row.pk != target.pk):
                row.book_warning = ""
                changed.append(row)
    for row in changed:
        WebhookState.objects.filter(pk=row.pk).update(book_warning=row.book_warning)
    if changed:
        announce_rows(PushKind.POSITION, changed)  # update() fires no signal
    return len(changed)


async def book_balances_check(book: Book, exchange: Exchange) -> list[BalanceCheck]:
    """Compare the book's base balances with the open positions; returns the verdicts (not written)."""
    balance = await exchange.fetch_balance()
    markets = await exchange.load_markets()
    held = {currency for currency, total in balance.total.items() if total != 0}
    held_symbols = {market.symbol for market in markets.values() if market.base in held}
    quantities = await sync_to_async(_quantities, thread_sensitive=True)(book, held_symbols)
    return balances_compare(totals=balance.total, positions=quantities, markets=markets)


async def book_warnings_write(book: Book, checks: list[BalanceCheck]) -> int:
    return await sync_to_async(_warnings_write, thread_sensitive=True)(book, checks)
