"""The engine's and the web's side of the exchange gateway: one request, one reply.

A request is appended to stream `exchange_requests`; the caller blocks on its reply list
(BLPOP, no polling sleep). A request carries a deadline so that the gateway never acts on
one the caller has already given up on.

Across a Redis restart the client (apps/core/redis_client.py) reconnects and sends the request
and its wait again; if the first copy had reached Redis, the gateway runs the request twice
under one request id: the caller takes the first reply, and orders stay single because the
gateway places and looks them up by client order id. Redis still away after the client's
retries is `GatewayUnavailable`, a temporary error the engine retries.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import redis

from apps.core.streams import (
    EXCHANGE_REQUESTS,
    STREAM_MAXLEN,
    GatewayOp,
    GatewayReply,
    GatewayRequest,
    balance_from_dict,
    error_from_kind,
    market_from_dict,
    order_state_from_dict,
)
from trading.errors import TemporaryError, TradingError
from trading.markets import Market
from trading.orders import Balance, OrderRequest, OrderState, ProtectionRequest


class GatewayUnavailable(TemporaryError):
    """The gateway did not answer in time: the request may or may not have been acted on;
    look orders up by client order id before placing them again."""


def _order_request_params(request: OrderRequest) -> dict[str, Any]:
    return {
        "client_order_id": request.client_order_id,
        "symbol": request.symbol,
        "side": request.side.value,
        "type": request.type.value,
        "amount": request.amount,
        "price": request.price,
        "stop_price": request.stop_price,
        "reference_price": request.reference_price,
    }


class GatewayClient:
    """Typed calls to the gateway for one caller; `force_paper` is the engine's --test."""

    def __init__(self, client: redis.Redis, *, timeout_seconds: float, force_paper: bool = False) -> None:
        self.redis = client
        self.timeout_seconds = timeout_seconds
        self.force_paper = force_paper
        self._markets: dict[int, dict[str, Market]] = {}

    def routed(self, *, paper: bool) -> GatewayClient:
        """This client, or for what is marked paper its twin that sends every request to the
        paper exchange: a paper order or position stays paper whatever mode the engine runs in."""
        if not paper or self.force_paper:
            return self
        twin: GatewayClient | None = self.__dict__.get("_paper_twin")
        if twin is None:
            twin = copy.copy(self)  # shares the connection and whatever else the client holds
            twin.force_paper = True
            twin._markets = {}
            self._paper_twin = twin
        return twin

    def call(
        self, op: GatewayOp, *, broker_id: int, params: Mapping[str, Any] | None = None, trace_id: str = ""
    ) -> Any:
        """Send one request and wait for its reply; raises the domain error the gateway saw."""
        request = GatewayRequest(
            request_id=uuid.uuid4().hex,
            op=op,
            broker_id=broker_id,
            params=dict(params or {}),
            deadline_ms=int((time.time() + self.timeout_seconds) * 1000),
            force_paper=self.force_paper,
            trace_id=trace_id,
        )
        # One round trip: the request and the wait for its reply go out together (Redis runs the
        # XADD, then blocks on the reply list). Capped: a request past its deadline is never run.
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(EXCHANGE_REQUESTS, request.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        pipe.blpop([request.reply_key], timeout=self.timeout_seconds)
        try:
            item = pipe.execute()[1]
        except redis.TimeoutError:
            item = None
        except redis.ConnectionError as exc:
            raise GatewayUnavailable(f"Redis is unreachable, {op.value} was not answered: {exc}") from exc
        if item is None:
            raise GatewayUnavailable(
                f"the exchange gateway did not answer {op.value} within {self.timeout_seconds:g} s "
                "(is run_native_exchange_service running?)"
            )
        reply = GatewayReply.from_json(item[1])
        reply.raise_error()
        return reply.result

    def markets(self, broker_id: int, *, refresh: bool = False) -> dict[str, Market]:
        """The broker's markets, cached for the life of the client."""
        if refresh or broker_id not in self._markets:
            raw = self.call(GatewayOp.MARKETS, broker_id=broker_id)
            self._markets[broker_id] = {symbol: market_from_dict(data) for symbol, data in raw.items()}
        return self._markets[broker_id]

    def markets_cached(self, broker_id: int) -> dict[str, Market] | None:
        """The broker's markets if this client has them already (never asks the gateway)."""
        return self._markets.get(broker_id)

    def balance(self, broker_id: int) -> Balance:
        return balance_from_dict(self.call(GatewayOp.BALANCE, broker_id=broker_id))

    def balance_and_price(self, broker_id: int, symbol: str) -> tuple[Balance, Decimal | None]:
        """The balance and the symbol's last price in one round trip."""
        raw = self.call(GatewayOp.BALANCE, broker_id=broker_id, params={"symbol": symbol})
        last = raw.get("last")
        return balance_from_dict(raw), Decimal(str(last)) if last not in (None, "") else None

    def ticker(self, broker_id: int, symbol: str) -> Any:
        return self.call(GatewayOp.TICKER, broker_id=broker_id, params={"symbol": symbol})

    def create_order(self, broker_id: int, request: OrderRequest, *, trace_id: str = "") -> OrderState:
        raw = self.call(
            GatewayOp.CREATE_ORDER, broker_id=broker_id, params=_order_request_params(request), trace_id=trace_id
        )
        return order_state_from_dict(raw)

    def create_protection(self, broker_id: int, request: ProtectionRequest, *, trace_id: str = "") -> list[OrderState]:
        params = {
            "symbol": request.symbol,
            "amount": request.amount,
            "stop_loss_client_order_id": request.stop_loss_client_order_id,
            "stop_loss_price": request.stop_loss_price,
            "take_profit_client_order_id": request.take_profit_client_order_id,
            "take_profit_price": request.take_profit_price,
        }
        raw = self.call(GatewayOp.CREATE_PROTECTION, broker_id=broker_id, params=params, trace_id=trace_id)
        return [order_state_from_dict(item) for item in raw]

    def cancel_order(self, broker_id: int, *, symbol: str, client_order_id: str) -> OrderState:
        params = {"symbol": symbol, "client_order_id": client_order_id}
        return order_state_from_dict(self.call(GatewayOp.CANCEL_ORDER, broker_id=broker_id, params=params))

    def cancel_orders(
        self, broker_id: int, *, symbol: str, client_order_ids: list[str]
    ) -> list[OrderState | TradingError]:
        """Cancel several orders in one round trip; each answer is the order's state or its error."""
        params = {"symbol": symbol, "client_order_ids": client_order_ids}
        answers: list[OrderState | TradingError] = []
        for item in self.call(GatewayOp.CANCEL_ORDERS, broker_id=broker_id, params=params):
            if "order" in item:
                answers.append(order_state_from_dict(item["order"]))
            else:
                answers.append(error_from_kind(item["error_kind"], item["error_message"]))
        return answers

    def fetch_order(self, broker_id: int, *, symbol: str, client_order_id: str) -> OrderState:
        params = {"symbol": symbol, "client_order_id": client_order_id}
        return order_state_from_dict(self.call(GatewayOp.FETCH_ORDER, broker_id=broker_id, params=params))

    def open_orders(self, broker_id: int, symbol: str | None = None) -> list[OrderState]:
        raw = self.call(GatewayOp.OPEN_ORDERS, broker_id=broker_id, params={"symbol": symbol})
        return [order_state_from_dict(item) for item in raw]

    def price_update(
        self, *, symbol: str, last: Any, low: Any = None, high: Any = None, exchange: str = "paper"
    ) -> Any:
        """Feed a price to the paper exchange (the heartbeat does this for every candle)."""
        params = {"symbol": symbol, "last": last, "low": low, "high": high, "exchange": exchange}
        return self.call(GatewayOp.PRICE_UPDATE, broker_id=0, params=params)

    def test_connection(self, broker_id: int) -> Any:
        return self.call(GatewayOp.TEST_CONNECTION, broker_id=broker_id)
