"""The paper exchange's accounts and orders kept in the database, so they survive restarts."""

from __future__ import annotations

import functools
import json
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from apps.brokers.models import Broker, PaperAccount, PaperOrder
from trading.paper.book import PaperBook
from trading.paper.book import PaperOrder as BookOrder


def _numeric_id(order_id: str) -> int:
    digits = "".join(ch for ch in order_id if ch.isdigit())
    return int(digits) if digits else 0


def paper_book_load(broker: Broker) -> PaperBook:
    """The broker's paper account with its open orders; a new account gets the initial USDT."""
    account = PaperAccount.objects.filter(broker=broker).first()
    if account is None:
        book = PaperBook.new(settings.PAPER_INITIAL_BALANCE_USDT, settings.PAPER_FEE_RATE)
        balances, _ = book.take_changes()
        PaperAccount.objects.create(broker=broker, balances=balances, next_order_id=1)
        return book
    orders = [BookOrder.from_record(row.record) for row in account.orders.exclude(status__in=_FINAL)]
    book = PaperBook.restore(
        balances=account.balances, orders=orders, fee_rate=settings.PAPER_FEE_RATE, next_order_id=account.next_order_id
    )
    book.take_changes()
    return book


_FINAL = ("filled", "canceled", "rejected", "expired")


@functools.cache
def _statements(vendor: str) -> tuple[str, str]:
    """The save's two statements in plain SQL (SQLite and PostgreSQL): this runs before every
    paper answer, and the ORM's compiling of an upsert cost more than the database's work.
    Only table names from the models go into the text; every value is a parameter."""
    as_json = "CAST(%s AS jsonb)" if vendor == "postgresql" else "%s"
    greatest = "GREATEST" if vendor == "postgresql" else "MAX"
    upsert = (
        f"INSERT INTO {PaperOrder._meta.db_table} "  # noqa: S608 - no value in the text
        "(account_id, order_id, client_order_id, symbol, status, record, updated_at) "
        f"VALUES (%s, %s, %s, %s, %s, {as_json}, %s) "
        "ON CONFLICT (account_id, order_id) DO UPDATE SET status = excluded.status, "
        "record = excluded.record, client_order_id = excluded.client_order_id, updated_at = excluded.updated_at"
    )
    update = (
        f"UPDATE {PaperAccount._meta.db_table} SET balances = {as_json}, updated_at = %s, "  # noqa: S608
        f"next_order_id = {greatest}(next_order_id, %s) WHERE id = %s"
    )
    return upsert, update


class DjangoPaperStore:
    """PaperStore backed by PaperAccount / PaperOrder rows; account_key is the broker id.

    It remembers which client order ids each account has ever stored, so that placing a new
    order (whose id it has never seen) costs no lookup query. A save is one transaction with
    only the orders that changed; it is committed before the caller answers anyone (SQLite in
    WAL mode with synchronous=NORMAL keeps a commit through a killed process; PostgreSQL
    through anything).
    """

    def __init__(self) -> None:
        self._known_client_ids: dict[str, set[str]] = {}
        self._account_ids: dict[str, int] = {}

    def _known(self, account_key: str) -> set[str]:
        known = self._known_client_ids.get(account_key)
        if known is None:
            known = set(
                PaperOrder.objects.filter(account__broker_id=int(account_key)).values_list("client_order_id", flat=True)
            )
            self._known_client_ids[account_key] = known
        return known

    async def save(self, account_key: str, balances: dict[str, dict[str, str]], orders: list[BookOrder]) -> None:
        await sync_to_async(self._save_sync, thread_sensitive=True)(account_key, balances, orders)

    def _save_sync(self, account_key: str, balances: dict[str, dict[str, str]], orders: list[BookOrder]) -> None:
        account_id = self._account_ids.get(account_key)
        if account_id is None:
            account_id = PaperAccount.objects.values_list("pk", flat=True).get(broker_id=int(account_key))
            self._account_ids[account_key] = account_id
        # Plain SQL, one statement per table: this runs before every paper answer, and the ORM's
        # compiling of an upsert cost more than the database's work.
        connection = connections[PaperOrder.objects.db]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        upsert, update = _statements(connection.vendor)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if orders:
                cursor.executemany(
                    upsert,
                    [
                        (
                            account_id,
                            order.id,
                            order.client_order_id,
                            order.symbol,
                            str(order.status),
                            json.dumps(order.to_record()),
                            now,
                        )
                        for order in orders
                    ],
                )
            top = max((_numeric_id(order.id) for order in orders), default=0) + 1
            cursor.execute(update, [json.dumps(balances), now, top, account_id])
        if account_key in self._known_client_ids:
            self._known_client_ids[account_key].update(order.client_order_id for order in orders)

    async def load(self, account_key: str, *, fee_rate: Decimal) -> PaperBook:
        broker = await sync_to_async(Broker.objects.get, thread_sensitive=True)(pk=int(account_key))
        return await sync_to_async(paper_book_load, thread_sensitive=True)(broker)

    async def find_order(
        self, account_key: str, *, order_id: str | None, client_order_id: str | None
    ) -> BookOrder | None:
        known = self._known_client_ids.get(account_key)
        if not order_id and client_order_id and known is not None and client_order_id not in known:
            return None  # never stored: no need to ask the database
        return await sync_to_async(self._find_sync, thread_sensitive=True)(account_key, order_id, client_order_id)

    def _find_sync(self, account_key: str, order_id: str | None, client_order_id: str | None) -> BookOrder | None:
        if not order_id and client_order_id and client_order_id not in self._known(account_key):
            return None
        rows = PaperOrder.objects.filter(account__broker_id=int(account_key))
        if order_id:
            rows = rows.filter(order_id=order_id)
        elif client_order_id:
            rows = rows.filter(client_order_id=client_order_id)
        else:
            return None
        row = rows.first()
        return BookOrder.from_record(row.record) if row else None
