"""The paper exchange's accounts and orders kept in the database, so they survive restarts."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
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


class DjangoPaperStore:
    """PaperStore backed by PaperAccount / PaperOrder rows; account_key is the broker id.

    It remembers which client order ids each account has ever stored, so that placing a new
    order (whose id it has never seen) costs no lookup query.
    """

    def __init__(self) -> None:
        self._known_client_ids: dict[str, set[str]] = {}

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
        broker_id = int(account_key)
        with transaction.atomic():
            account_id, next_order_id = PaperAccount.objects.values_list("pk", "next_order_id").get(broker_id=broker_id)
            if orders:
                top = max(_numeric_id(order.id) for order in orders) + 1
                next_order_id = max(next_order_id, top)
                PaperOrder.objects.bulk_create(
                    [
                        PaperOrder(
                            account_id=account_id,
                            order_id=order.id,
                            client_order_id=order.client_order_id,
                            symbol=order.symbol,
                            status=str(order.status),
                            record=order.to_record(),
                        )
                        for order in orders
                    ],
                    update_conflicts=True,
                    unique_fields=["account", "order_id"],
                    update_fields=["status", "record", "client_order_id", "updated_at"],
                )
            changes: dict[str, object] = {"next_order_id": next_order_id, "updated_at": timezone.now()}
            if balances:
                changes["balances"] = balances
            PaperAccount.objects.filter(pk=account_id).update(**changes)
        if account_key in self._known_client_ids:
            self._known_client_ids[account_key].update(order.client_order_id for order in orders)

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
