"""The engine loop keeps serving alerts while one broker's exchange does not answer, and an
alert runs in the partition of the market it resolves to, beside nothing else of its position."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from apps.brokers.models import Broker, TypeDeTrading
from apps.core.gateway_client import GatewayClient, GatewayUnavailable
from apps.core.streams import EXCHANGE_EVENTS, WEBHOOK_RAW, ExchangeEvent, RawAlert
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.passes import PartitionClaims
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import AlertSender
from trading.markets import Market
from trading.orders import OrderSide, OrderState, OrderStatus, OrderType

pytestmark = pytest.mark.integration

HANG_SECONDS = 2.0


class HangingGateway(GatewayClient):
    """The real gateway, except that one broker's exchange never answers (each request waits
    out its timeout, as a hung exchange does)."""

    hanging: int = 0
    calls = 0

    def call(self, op: Any, *, broker_id: int, **kwargs: Any) -> Any:
        if broker_id == HangingGateway.hanging:
            HangingGateway.calls += 1
            time.sleep(HANG_SECONDS)
            raise GatewayUnavailable(f"the exchange gateway did not answer {op} within {HANG_SECONDS:g} s")
        return super().call(op, broker_id=broker_id, **kwargs)


def _hung_broker_with_work(alice: Any) -> Broker:
    hung = Broker.objects.create(user=alice, name="Kraken", exchange="kraken", type_de_trading=TypeDeTrading.WEBHOOKS)
    for number, symbol in enumerate(("ETH/USDT", "SOL/USDT", "ADA/USDT")):
        position = WebhookState.objects.create(
            user=alice,
            broker=hung,
            symbol=symbol,
            side="long",
            status="open",
            quantity=Decimal(1),
            entry_price=Decimal(100),
            stop_loss_price=Decimal(90),
            protection_mode="engine",
            order_key=f"{number:010x}",
        )
        Order.objects.create(
            user=alice,
            broker=hung,
            position=position,
            symbol=symbol,
            kind="exit",
            side="sell",
            type="limit",
            amount=Decimal(1),
            price=Decimal(120),
            status=OrderStatus.OPEN,
            client_order_id=f"hung-{number}",
        )
    return hung


def test_an_alert_is_handled_at_once_while_another_brokers_exchange_hangs(
    redis_client, gateway_service, alice, paper_broker
):
    hung = _hung_broker_with_work(alice)
    HangingGateway.hanging = hung.pk
    gateway = HangingGateway(redis_client, timeout_seconds=5)
    engine = TradingEngine(redis_client, gateway, consumer="engine-hang", retry_idle_ms=200)
    engine.start()  # its start pass meets the hung exchange once, then skips it
    try:
        sender = AlertSender(redis_client, engine, alice, paper_broker)
        sender.send({"Symbol": "BTCUSDT", "Action": "BuyMarket", "PourCent": "10", "Prix": "40000"})  # warm up
        HangingGateway.calls = 0

        entry = sender.add({"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "40000"})
        arrived = time.monotonic()
        assert engine.passes.due()  # the periodic look at live orders and guarded positions starts
        while not Webhook.objects.filter(stream_id=entry, status="processed").exists():
            engine.step(block_ms=10)
            assert time.monotonic() - arrived < HANG_SECONDS, "the alert waited behind the hung exchange"
        delay = time.monotonic() - arrived
        print(f"alert processed {delay * 1000:.0f} ms after arrival while another exchange hangs")
        assert delay < 0.5

        engine.passes.wait(30)
        assert HangingGateway.calls == 1, "one wait per pass for a hung exchange, not one per order"
    finally:
        engine.close()


def _market(symbol: str, market_id: str) -> Market:
    base, quote = symbol.split("/")
    return Market(
        symbol=symbol, id=market_id, base=base, quote=quote, amount_step=Decimal("0.0001"), price_step=Decimal("0.1")
    )


def test_an_alert_spelled_with_the_exchange_id_shares_its_positions_partition(redis_client, alice, db):
    kraken = Broker.objects.create(user=alice, name="Kraken", exchange="kraken", type_de_trading=TypeDeTrading.WEBHOOKS)
    gateway = GatewayClient(redis_client, timeout_seconds=1)
    gateway._markets[kraken.pk] = {
        "BTC/USDT": _market("BTC/USDT", "XBTUSDT"),
        "ETH/USDT": _market("ETH/USDT", "ETHUSDT"),
    }
    engine = TradingEngine(redis_client, gateway, consumer="engine-keys")
    alert = RawAlert(
        body=f'{{"UserExchangeID": {kraken.pk}, "Symbol": "XBTUSDT", "Action": "SellMarket"}}',
        received_at="2026-01-01T00:00:00+00:00",
        trace_id="t",
        user_id=alice.pk,
    )
    fill = ExchangeEvent(
        broker_id=kraken.pk,
        order=OrderState(
            id="1",
            client_order_id="x",
            symbol="BTC/USDT",
            side=OrderSide.SELL,
            type=OrderType.STOP_MARKET,
            status=OrderStatus.FILLED,
            amount=Decimal(1),
        ),
    )

    alert_key = engine.partitions.key(WEBHOOK_RAW, alert.to_fields())
    fill_key = engine.partitions.key(EXCHANGE_EVENTS, fill.to_fields())

    assert alert_key == fill_key == f"{alice.pk}:BTCUSDT"


def test_an_alert_of_a_partition_the_pass_works_on_waits_for_it():
    claims = PartitionClaims()
    assert claims.pass_take("7:BTCUSDT")
    busy = claims.batch_take(["7:BTCUSDT", "7:ETHUSDT", "heartbeat:BTCUSDT"])
    assert busy == {"7:BTCUSDT", "heartbeat:BTCUSDT"}  # a candle of its symbol waits too
    assert not claims.pass_take("7:ETHUSDT")  # the batch runs that one: the pass skips it
    claims.pass_give()
    assert claims.released.is_set()  # held entries are taken up at the next step
    claims.batch_give()
    assert claims.pass_take("7:ETHUSDT")
