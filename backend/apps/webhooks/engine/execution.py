"""Executing a recorded alert: broker checks, then PING, buys, sells or MAJ (DESIGN §3)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.utils import timezone

from apps.brokers.models import Broker, TypeDeTrading
from apps.core.gateway_client import GatewayClient
from apps.core.logcontext import alert_trace
from apps.core.metrics import ALERTS_FAILED, ALERTS_PROCESSED, metric_incr, order_latency_observe
from apps.webhooks.engine.cancels import protection_cancel
from apps.webhooks.engine.failures import FINAL_ERRORS, failure_text, orders_summary
from apps.webhooks.engine.follow_ups import order_follow_up_guarded
from apps.webhooks.engine.guard import positions_guard
from apps.webhooks.engine.ids import client_order_id, webhook_origin
from apps.webhooks.engine.ledger import order_state_apply, position_for_alert
from apps.webhooks.engine.market_lock import market_hold
from apps.webhooks.engine.orders import order_record, order_submit
from apps.webhooks.engine.protection import protection_sync, protection_to_guard
from apps.webhooks.engine.rows import row_save
from apps.webhooks.models import Order, PositionStatus, Webhook, WebhookState, WebhookStatus
from trading.alerts import Action, Alert
from trading.errors import AlertInvalid, OrderInvalid, TemporaryError, TradingError
from trading.markets import Market, price_round, symbol_resolve
from trading.orders import OrderKind, OrderSide, OrderStatus, OrderType
from trading.sizing import buy_amount, sell_amount

logger = logging.getLogger(__name__)


FINISH_FIELDS = ["status", "error_message", "processed_at", "order_id", "broker", "prix_sl", "prix_tp"]


def webhook_finish(webhook: Webhook, *, error: str = "", warning: str = "") -> None:
    """Processed (with `warning` in the message when something after the trade failed) or error."""
    webhook.status = WebhookStatus.ERROR if error else WebhookStatus.PROCESSED
    webhook.error_message = error or warning
    webhook.processed_at = timezone.now()
    row_save(webhook, FINISH_FIELDS)
    metric_incr(ALERTS_FAILED if error else ALERTS_PROCESSED)


def broker_check(broker: Broker) -> None:
    """An alert acts only on an active broker in Webhooks mode."""
    if not broker.is_active:
        raise AlertInvalid(f"broker {broker.label} is inactive: alert recorded, nothing sent")
    if broker.type_de_trading != TypeDeTrading.WEBHOOKS:
        raise AlertInvalid(
            f"broker {broker.label} is in {broker.type_de_trading} mode, not Webhooks: alert recorded, nothing sent"
        )


class AlertExecutor:
    """Runs alerts through the gateway; one instance per engine process."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway
        self._warnings: dict[int, str] = {}  # webhook id → what failed after its trade

    def execute(self, webhook: Webhook, alert: Alert, *, fresh: bool = False) -> None:
        """Take a recorded alert to processed or error; TemporaryError leaves it processing.

        `fresh`: recorded by this very try, so no order of it can exist yet. Log lines written
        meanwhile carry the alert's trace id.
        """
        with alert_trace(webhook.trace_id):
            self._execute(webhook, alert, fresh=fresh)

    def _execute(self, webhook: Webhook, alert: Alert, *, fresh: bool) -> None:
        if webhook.status != WebhookStatus.PROCESSING:
            webhook.status = WebhookStatus.PROCESSING
            webhook.save(update_fields=["status"])
        broker = webhook.broker
        self._warnings.pop(webhook.pk, None)
        try:
            if broker is None:
                raise AlertInvalid("no broker for this alert")
            broker_check(broker)
            if alert.action is Action.PING:
                self._guard(broker, alert)  # its price is a price too
            else:
                # The market's lock: an alert spelled otherwise, or a fill of this position, may
                # be in another engine's partition (see market_lock).
                market = self._market(broker, alert.symbol)
                with market_hold(broker.pk, market.symbol):
                    self._act(webhook, alert, broker, market, fresh=fresh)
        except TemporaryError:
            raise
        except FINAL_ERRORS as exc:  # no retry can cure these: the alert ends here
            message = str(exc) if isinstance(exc, TradingError) else f"{failure_text(exc)}; {orders_summary(webhook)}"
            webhook_finish(webhook, error=message)
            return
        webhook_finish(webhook, warning=self._warnings.pop(webhook.pk, ""))

    def _act(self, webhook: Webhook, alert: Alert, broker: Broker, market: Market, *, fresh: bool) -> None:
        self._guard(broker, alert, market)
        if alert.action.is_buy:
            self._buy(webhook, alert, broker, market, fresh=fresh)
        elif alert.action.is_sell:
            self._sell(webhook, alert, broker, market, fresh=fresh)
        elif alert.action is Action.MAJ:
            self._maj(webhook, alert, broker, market)
        else:
            raise AlertInvalid(f"Action {alert.action} cannot be sent by TradingView")

    # Shared steps.

    def _paper(self, broker: Broker) -> bool:
        """Whether this alert trades on the paper exchange: the engine runs with --test or the
        broker is a paper one. What it places is marked so for good."""
        return self.gateway.force_paper or broker.is_paper

    def _gateway(self, broker: Broker) -> GatewayClient:
        return self.gateway.routed(paper=self._paper(broker))

    def _market(self, broker: Broker, symbol: str, *, paper: bool | None = None) -> Market:
        gateway = self.gateway.routed(paper=self._paper(broker) if paper is None else paper)
        return symbol_resolve(symbol, gateway.markets(broker.pk))

    def _market_price(self, broker: Broker, market: Market, alert: Alert, *, paper: bool) -> Decimal:
        """The price to size a market order with: the exchange's last price, else the alert's."""
        last = self.gateway.routed(paper=paper).ticker(broker.pk, market.symbol)
        if last not in (None, ""):
            return Decimal(str(last))
        if alert.reference_price is not None:
            return alert.reference_price
        raise AlertInvalid(f"no price known for {market.symbol}: send Prix or Close in the alert")

    def _submit(self, webhook: Webhook, order: Order, alert: Alert) -> None:
        state = order_submit(order, self.gateway, reference_price=alert.reference_price)
        order_latency_observe((timezone.now() - webhook.received_at).total_seconds())  # alert in → exchange's answer
        webhook.order_id = state.id
        order_state_apply(order, state)
        # The trade is done: what follows (protection) failing leaves the position to the guard
        # and the alert processed with a warning, never an error.
        warning = order_follow_up_guarded(order, self.gateway)
        if warning:
            self._warnings[webhook.pk] = warning

    def _guard(self, broker: Broker, alert: Alert, market: Market | None = None) -> None:
        """An alert's market price is a price too: guarded stops and targets it crosses act first.

        `Close`, else `Prix` of a market action; a limit action's `Prix` is the trader's limit,
        a price the market has not reached, so it never closes anything."""
        price = alert.close
        if price is None and alert.action not in (Action.BUY_LIMIT, Action.SELL_LIMIT):
            price = alert.prix
        if price is None or self._paper(broker):
            return  # an alert's price is the live market's: paper positions follow the paper feed
        if not WebhookState.objects.filter(
            broker=broker, status=PositionStatus.OPEN, protection_mode="engine", paper=False
        ).exists():
            return
        market = market or self._market(broker, alert.symbol)
        with market_hold(broker.pk, market.symbol):
            positions_guard(self.gateway, symbol=market.symbol, low=price, high=price, broker_id=broker.pk, paper=False)

    # Actions.

    def _buy(self, webhook: Webhook, alert: Alert, broker: Broker, market: Market, *, fresh: bool) -> None:
        paper = self._paper(broker)
        # Rounded to the market; the position takes them from the webhook when the entry fills.
        webhook.prix_sl = price_round(alert.prix_sl, market) if alert.prix_sl else None
        webhook.prix_tp = price_round(alert.prix_tp, market) if alert.prix_tp else None
        order = None if fresh else Order.objects.filter(webhook=webhook, kind=OrderKind.ENTRY).first()
        if order is None:
            _check_mode(
                self.gateway,
                position_for_alert(broker_id=broker.pk, symbol=market.symbol, paper=paper),
                paper=paper,
                adding=True,
            )
            limit = alert.action is Action.BUY_LIMIT
            balance, last = self._gateway(broker).balance_and_price(broker.pk, market.symbol)
            price = price_round(alert.prix, market) if limit and alert.prix else _sizing_price(market, alert, last)
            _check_protection_prices(alert, price)
            free = balance.free_of(market.quote)
            amount = buy_amount(free_quote=free, pour_cent=alert.pour_cent, price=price, market=market)
            if limit:  # it may fill later, read back from the database then
                webhook.save(update_fields=["prix_sl", "prix_tp"])
            order = order_record(
                broker=broker,
                client_order_id=client_order_id(origin=webhook_origin(webhook), kind=OrderKind.ENTRY),
                kind=OrderKind.ENTRY,
                side=OrderSide.BUY,
                type=OrderType.LIMIT if limit else OrderType.MARKET,
                symbol=market.symbol,
                amount=amount,
                price=price if limit else None,
                webhook=webhook,
                paper=paper,
            )
        self._submit(webhook, order, alert)

    def _sell(self, webhook: Webhook, alert: Alert, broker: Broker, market: Market, *, fresh: bool) -> None:
        order = None if fresh else Order.objects.filter(webhook=webhook, kind=OrderKind.EXIT).first()
        if order is None:
            position = _position_required(broker, market, alert, paper=self._paper(broker))
            paper = _check_mode(self.gateway, position, paper=self._paper(broker))
            limit = alert.action is Action.SELL_LIMIT
            # The price only checks the minimum order value: the alert's own price will do.
            reference = alert.reference_price
            price = (
                price_round(alert.prix, market)
                if limit and alert.prix
                else reference or self._market_price(broker, market, alert, paper=paper)
            )
            amount = sell_amount(
                position_quantity=position.quantity, pour_cent=alert.pour_cent, price=price, market=market
            )
            protection_cancel(position, self.gateway)  # the stop and target hold the coins we sell
            if position.status != PositionStatus.OPEN:
                raise AlertInvalid(
                    f"the position on {market.symbol} was closed by its stop-loss or take-profit meanwhile"
                )
            order = order_record(
                broker=broker,
                client_order_id=client_order_id(origin=webhook_origin(webhook), kind=OrderKind.EXIT),
                kind=OrderKind.EXIT,
                side=OrderSide.SELL,
                type=OrderType.LIMIT if limit else OrderType.MARKET,
                symbol=market.symbol,
                amount=min(amount, position.quantity),
                price=price if limit else None,
                webhook=webhook,
                position=position,
                paper=paper,
            )
        try:
            self._submit(webhook, order, alert)
        except TemporaryError:
            # Its protection is cancelled and the exit's fate unknown until the retry: the guard
            # holds the position meanwhile (it cancels the exit before selling at market).
            if order.position is not None:
                protection_to_guard(order.position)
            raise
        except FINAL_ERRORS:
            if order.position is not None:  # the exit was refused: put the protection back
                protection_sync(order.position, self.gateway, origin=f"{webhook_origin(webhook)}r")
            raise

    def _maj(self, webhook: Webhook, alert: Alert, broker: Broker, market: Market) -> None:
        position = _position_required(broker, market, alert, paper=self._paper(broker))
        paper = _check_mode(self.gateway, position, paper=self._paper(broker))
        old_stop, old_take = position.stop_loss_price, position.take_profit_price
        stop = price_round(alert.prix_sl, market) if alert.prix_sl else old_stop
        take = price_round(alert.prix_tp, market) if alert.prix_tp else old_take
        last = self.gateway.routed(paper=paper).ticker(broker.pk, market.symbol)
        reference = Decimal(str(last)) if last not in (None, "") else alert.reference_price
        if reference is not None:
            _check_long_prices(stop=stop, take=take, price=reference)
        webhook.prix_sl, webhook.prix_tp = stop, take
        webhook.save(update_fields=["prix_sl", "prix_tp"])
        position.stop_loss_price, position.take_profit_price = stop, take
        position.save(update_fields=["stop_loss_price", "take_profit_price", "updated_at"])
        try:
            protection_sync(position, self.gateway, origin=webhook_origin(webhook))
        except FINAL_ERRORS as exc:
            position.stop_loss_price, position.take_profit_price = old_stop, old_take
            position.save(update_fields=["stop_loss_price", "take_profit_price", "updated_at"])
            protection_sync(position, self.gateway, origin=f"{webhook_origin(webhook)}r")
            raise OrderInvalid(
                f"MAJ refused by the exchange ({exc}); the previous stop-loss and take-profit are kept"
            ) from exc


def _sizing_price(market: Market, alert: Alert, last: Decimal | None) -> Decimal:
    """The price to size a market buy with: the exchange's last price, else the alert's."""
    if last is not None:
        return last
    if alert.reference_price is not None:
        return alert.reference_price
    raise AlertInvalid(f"no price known for {market.symbol}: send Prix or Close in the alert")


def _check_mode(gateway: GatewayClient, position: WebhookState | None, *, paper: bool, adding: bool = False) -> bool:
    """Whether an alert acts on the paper exchange. A position's own mark decides for what
    reduces or protects it (its orders go where it was opened); a --test engine never touches
    a live position, and a buy never mixes paper and live coins in one position."""
    if position is None:
        return paper
    if not position.paper and gateway.force_paper:
        raise AlertInvalid(
            f"the open position on {position.symbol} is live: an engine running with --test never touches it"
        )
    if adding and position.paper != paper:
        raise AlertInvalid(
            f"the open position on {position.symbol} is a paper one (opened with --test): sell it with the "
            "engine under --test before buying live"
        )
    return bool(position.paper)


def _position_required(broker: Broker, market: Market, alert: Alert, *, paper: bool) -> WebhookState:
    position = position_for_alert(broker_id=broker.pk, symbol=market.symbol, paper=paper)
    if position is None or position.quantity <= 0:
        raise AlertInvalid(f"{alert.action}: no open position on {market.symbol} for broker {broker.label}")
    return position


def _check_long_prices(*, stop: Decimal | None, take: Decimal | None, price: Decimal) -> None:
    if stop is not None and stop >= price:
        raise AlertInvalid(f"stop-loss {stop} is not below the price {price} of a long")
    if take is not None and take <= price:
        raise AlertInvalid(f"take-profit {take} is not above the price {price} of a long")


def _check_protection_prices(alert: Alert, price: Decimal) -> None:
    _check_long_prices(stop=alert.prix_sl, take=alert.prix_tp, price=price)


__all__ = ["AlertExecutor", "OrderStatus", "webhook_finish"]
