"""One long-lived exchange adapter per broker, built from the broker's record."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.brokers.credentials import credential_decrypt
from apps.brokers.gateway.paper_store import DjangoPaperStore, paper_book_load
from apps.brokers.models import Broker, PaperAccount
from trading.errors import ConfigurationError
from trading.exchange import Exchange
from trading.live.exchange import CcxtConfig, CcxtExchange
from trading.paper.exchange import PaperExchange, PriceBoard

logger = logging.getLogger(__name__)

BROKER_TTL_SECONDS = 2.0  # a changed broker (keys, exchange) is picked up within this delay


@dataclass
class _Entry:
    exchange: Exchange
    updated_at: datetime
    paper: bool


def live_config(broker: Broker) -> CcxtConfig:
    """The broker's live account with its credentials decrypted: only the gateway calls this."""
    label = broker.label
    return CcxtConfig(
        exchange_id=broker.exchange,
        label=label,
        api_key=credential_decrypt(broker.api_key_encrypted, broker_label=label),
        secret=credential_decrypt(broker.api_secret_encrypted, broker_label=label),
        password=credential_decrypt(broker.api_password_encrypted, broker_label=label),
        testnet=broker.is_testnet,
        api_base_url=broker.api_base_url,
        timeout_ms=settings.EXCHANGE_TIMEOUT_SECONDS * 1000,
    )


class ExchangeRegistry:
    """Adapters by broker id; rebuilt when the broker's record changes."""

    def __init__(self, *, prices: PriceBoard) -> None:
        self.prices = prices
        self.store = DjangoPaperStore()
        self._entries: dict[tuple[int, bool], _Entry] = {}
        self._brokers: dict[int, tuple[float, Broker | None]] = {}

    async def get(self, broker_id: int, *, force_paper: bool = False) -> Exchange:
        broker = await self._broker(broker_id)
        if broker is None:
            raise ConfigurationError(f"broker #{broker_id} does not exist")
        paper = force_paper or broker.is_paper
        key = (broker_id, paper)
        entry = self._entries.get(key)
        if entry is not None and (paper or entry.updated_at == broker.updated_at):
            return entry.exchange
        if entry is not None:
            await entry.exchange.close()
        exchange = await self._build(broker, paper=paper)
        self._entries[key] = _Entry(exchange, broker.updated_at, paper)
        return exchange

    async def _broker(self, broker_id: int) -> Broker | None:
        """The broker's record, re-read at most every BROKER_TTL_SECONDS (no query per request)."""
        cached = self._brokers.get(broker_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < BROKER_TTL_SECONDS:
            return cached[1]
        broker = await sync_to_async(Broker.objects.filter(pk=broker_id).first, thread_sensitive=True)()
        self._brokers[broker_id] = (now, broker)
        return broker

    async def _build(self, broker: Broker, *, paper: bool) -> Exchange:
        if paper:
            book = await sync_to_async(paper_book_load, thread_sensitive=True)(broker)
            # Every change is committed before its answer leaves (durable through a SIGKILL).
            return PaperExchange(account_key=str(broker.pk), book=book, prices=self.prices, store=self.store)
        if refusal := broker.base_url_refusal():  # stored before the allowlist changed, or not via clean()
            raise ConfigurationError(f"broker {broker.label}: api_base_url {refusal}; nothing was sent")
        return CcxtExchange(live_config(broker))

    async def load_paper_accounts(self) -> int:
        """Load every paper account that has resting orders, so price moves can fill them."""
        broker_ids = await sync_to_async(
            lambda: list(
                PaperAccount.objects.filter(orders__status="open").values_list("broker_id", flat=True).distinct()
            ),
            thread_sensitive=True,
        )()
        for broker_id in broker_ids:
            await self.get(broker_id, force_paper=True)
        return len(broker_ids)

    def paper_items(self) -> list[tuple[int, PaperExchange]]:
        """(broker id, paper exchange) for every paper account loaded."""
        return [
            (broker_id, entry.exchange)
            for (broker_id, _paper), entry in self._entries.items()
            if isinstance(entry.exchange, PaperExchange)
        ]

    async def close(self) -> None:
        for entry in self._entries.values():
            await entry.exchange.close()
        self._entries.clear()
