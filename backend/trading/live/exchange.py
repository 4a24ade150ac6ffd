"""`CcxtExchange`: one broker's live account through async ccxt, behind `trading.exchange.Exchange`.

One long-lived client per broker so that ccxt's rate limiter works; markets loaded once and
refreshed hourly; `clientOrderId` passed on every order, and after a timeout or network
error the order is looked up by it before anything else is decided.

Placing at most once (DESIGN §5, invariant 2) rests on three rules here:
- the client id is looked up before an order is placed, and a found order is returned;
- after a placement whose outcome is unknown (timeout, network error, 5xx), the order is placed
  again only when a look-up says "no such order" *and* the failed request can no longer be
  executed (Binance refuses a request older than its recvWindow); a look-up that fails is an
  unknown outcome too, raised as TemporaryError so that the caller looks the order up later;
- a refusal before processing (429/418 rate limit, a refused timestamp) is placed again at once.
The gateway runs one broker's requests one at a time, so no other request for the same client
id runs while this one decides. Reads and placements are tried again by one policy
(`trading.live.retry`: three more tries after 0.5, 1 and 2 s, or the exchange's Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async

from trading.errors import (
    ConfigurationError,
    DuplicateOrder,
    ExchangeRejected,
    OrderNotFound,
    ProtectionUnsupported,
    TemporaryError,
    TradingError,
)
from trading.live.convert import balance_from_ccxt, markets_from_ccxt, order_from_ccxt, urls_rebased
from trading.live.errors import ccxt_error
from trading.live.retry import TryAgain, retried
from trading.markets import Market
from trading.orders import Balance, OrderRequest, OrderSide, OrderState, OrderType, ProtectionRequest

logger = logging.getLogger(__name__)

MARKETS_TTL_SECONDS = 3600
CLOCK_MARGIN_SECONDS = 2.0  # Binance takes a timestamp up to 1 s ahead of its clock; +1 s for ccxt's throttle

# Answers given before the request was processed: the order was certainly not placed.
_REFUSED_BEFORE_PROCESSING = (ccxt_async.DDoSProtection, ccxt_async.RateLimitExceeded, ccxt_async.InvalidNonce)


@dataclass(frozen=True)
class CcxtConfig:
    """What a broker says about its live account. Credentials are plain here: gateway only."""

    exchange_id: str
    label: str  # how messages name the broker
    api_key: str = ""
    secret: str = ""
    password: str = ""
    testnet: bool = False
    api_base_url: str = ""
    timeout_ms: int = 10_000

    def __repr__(self) -> str:  # never print credentials, even in a traceback
        return f"CcxtConfig({self.exchange_id!r}, {self.label!r}, testnet={self.testnet})"


# Exchange-specific options: load only spot markets and skip calls Aristobot does not need.
BINANCE_SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},  # only GET /api/v3/exchangeInfo
    "fetchMargins": False,  # no sapi margin pair calls
    "fetchCurrencies": False,  # no sapi capital/config/getall call
    "fetchOpenOrders": {"warnWithoutSymbol": False},
}
_OPTIONS: dict[str, dict[str, Any]] = {"binance": BINANCE_SPOT_OPTIONS}


_REDIRECTS = (301, 302, 303, 307, 308)


async def _refuse_redirect(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp middleware: a redirect is an error, never followed (with the signed request, the
    key header and, for 307/308, the body). The browser sees the status only; the log, the target."""
    response = await handler(request)
    if response.status in _REDIRECTS:
        target = response.headers.get("Location", "")
        response.release()
        logger.warning("%s %s answered %s to %r: not followed", request.method, request.url, response.status, target)
        raise ConfigurationError(
            f"the broker's base URL answered with a redirect (HTTP {response.status}), which is not followed: "
            "set the base URL to the address that answers itself"
        )
    return response


def _session_refusing_redirects() -> aiohttp.ClientSession:
    """The aiohttp session of a rebased client (ccxt's `session` option; closed by `close`): as
    ccxt's own (certifi's CAs, no proxy from the environment) but redirects are refused."""
    import certifi

    connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=certifi.where()), enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, trust_env=False, middlewares=(_refuse_redirect,))


class CcxtExchange:
    """A live exchange account; every ccxt exception leaves as a domain error."""

    def __init__(
        self,
        config: CcxtConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._clock = clock
        # client id -> when a placement whose outcome stayed unknown was sent (this process only)
        self._unsettled: dict[str, float] = {}
        self._client: Any = None
        self._markets: dict[str, Market] = {}
        self._markets_loaded_at = 0.0

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self.config.api_key, self.config.secret, self.config.password)

    def _error(self, exc: Exception) -> TradingError:
        headers = getattr(self._client, "last_response_headers", None) or {}
        retry_after = next((value for key, value in headers.items() if key.lower() == "retry-after"), None)
        return ccxt_error(exc, broker_label=self.config.label, secrets=self._secrets, retry_after=retry_after)

    def client(self) -> Any:
        """The broker's ccxt client, created once; sandbox mode is set before any call."""
        if self._client is not None:
            return self._client
        exchange_class = getattr(ccxt_async, self.config.exchange_id, None)
        if exchange_class is None:
            raise ConfigurationError(f"broker {self.config.label}: ccxt has no exchange '{self.config.exchange_id}'")
        settings: dict[str, Any] = {
            "apiKey": self.config.api_key,
            "secret": self.config.secret,
            "password": self.config.password or None,
            "enableRateLimit": True,
            "timeout": self.config.timeout_ms,
            "options": copy.deepcopy(_OPTIONS.get(self.config.exchange_id, {})),
        }
        if self.config.api_base_url:  # an allowlisted address must not send the keys on elsewhere
            settings["session"] = _session_refusing_redirects()
        client = exchange_class(settings)
        if self.config.testnet:
            try:
                client.set_sandbox_mode(True)
            except Exception as exc:
                raise ConfigurationError(
                    f"broker {self.config.label}: {self.config.exchange_id} has no testnet in ccxt"
                ) from exc
        if self.config.api_base_url:
            client.urls["api"] = urls_rebased(client.urls["api"], self.config.api_base_url)
        self._client = client
        return client

    async def _call(self, method: str, *args: Any) -> Any:
        """A read-only call, tried again after a temporary error."""

        async def attempt() -> Any:
            try:
                return await getattr(self.client(), method)(*args)
            except Exception as exc:
                error = self._error(exc)
            if isinstance(error, TemporaryError):
                raise TryAgain(error)
            raise error

        return await retried(attempt, sleep=self._sleep)

    async def load_markets(self) -> Mapping[str, Market]:
        if not self._markets or time.monotonic() - self._markets_loaded_at > MARKETS_TTL_SECONDS:
            client = self.client()
            raw = await self._call("load_markets", bool(self._markets))
            self._markets = markets_from_ccxt(raw, precision_mode=int(client.precisionMode))
            self._markets_loaded_at = time.monotonic()
        return self._markets

    async def _market(self, symbol: str) -> Market:
        markets = await self.load_markets()
        market = markets.get(symbol)
        if market is None:
            raise ExchangeRejected(f"{self.config.label} has no spot market {symbol}")
        return market

    async def fetch_balance(self) -> Balance:
        return balance_from_ccxt(await self._call("fetch_balance"))

    async def fetch_ticker(self, symbol: str) -> Decimal:
        ticker = await self._call("fetch_ticker", symbol)
        last = ticker.get("last") or ticker.get("close")
        if last is None:
            raise OrderNotFound(f"no last price for {symbol} on {self.config.label}")
        return Decimal(str(last))

    async def fetch_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        market = await self._market(symbol)
        params = {} if order_id else {"clientOrderId": client_order_id}
        raw = await self._call("fetch_order", order_id or "", symbol, params)
        return order_from_ccxt(raw, market)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        markets = await self.load_markets()
        raw = await self._call("fetch_open_orders", symbol)
        return [order_from_ccxt(item, markets[item["symbol"]]) for item in raw if item.get("symbol") in markets]

    async def cancel_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        market = await self._market(symbol)
        params = {} if order_id else {"clientOrderId": client_order_id}
        try:
            raw = await self._call("cancel_order", order_id or "", symbol, params)
        except OrderNotFound:
            # Already filled or cancelled: answer with what the exchange says it became.
            return await self.fetch_order(symbol=symbol, order_id=order_id, client_order_id=client_order_id)
        state = order_from_ccxt(raw, market)
        if state.status.is_final:
            return state
        return await self.fetch_order(symbol=symbol, order_id=order_id, client_order_id=client_order_id)

    async def create_order(self, request: OrderRequest) -> OrderState:
        """Place once: an order whose client id exists is returned, not placed again (exchanges
        such as Binance accept a reused client id once the first order is closed); on a timeout
        or network error the order is looked up by client id before anything else."""
        market = await self._market(request.symbol)
        found = await self._lookup_before_placing(request.symbol, [request.client_order_id])
        if found:
            return found[0]
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        kind = "market"
        price = request.price
        if request.type is OrderType.LIMIT:
            kind = "limit"
        elif request.type is OrderType.STOP_MARKET:
            params["stopLossPrice"] = float(request.stop_price or 0)
        elif request.type is OrderType.TAKE_PROFIT_LIMIT:
            kind = "limit"
            params["takeProfitPrice"] = float(request.price or 0)

        async def place() -> list[OrderState]:
            amount, limit = float(request.amount), float(price) if price is not None else None
            raw = await self.client().create_order(
                request.symbol, kind, request.side.value, amount, limit, dict(params)
            )
            return [order_from_ccxt(raw, market)]

        async def placed_already() -> list[OrderState]:
            return [await self.fetch_order(symbol=market.symbol, client_order_id=request.client_order_id)]

        placed = await self._place_once(market.symbol, [request.client_order_id], place, placed_already)
        return placed[0]

    async def _place_once(
        self,
        symbol: str,
        client_order_ids: list[str],
        place: Callable[[], Awaitable[list[OrderState]]],
        placed_already: Callable[[], Awaitable[list[OrderState]]],
    ) -> list[OrderState]:
        """The orders `place()` made, tried again only when they certainly were not placed: the
        exchange refused before processing, or a look-up finds none once the failed request can
        no longer execute. An exchange's "duplicate" means placed: `placed_already()` finds them.
        A look-up that fails raises TemporaryError at once: nothing is placed again."""

        async def attempt() -> list[OrderState]:
            sent_at = self._clock()
            try:
                return await place()
            except Exception as exc:
                error = self._error(exc)
                refused = isinstance(exc, _REFUSED_BEFORE_PROCESSING)
            if isinstance(error, DuplicateOrder):
                return await placed_already()
            if not isinstance(error, TemporaryError):
                raise error
            if not refused:  # the order may have reached the exchange: never place it twice
                found = await self._settled_lookup(symbol, client_order_ids, sent_at, error)
                if found:
                    return found
            raise TryAgain(error)

        return await retried(attempt, sleep=self._sleep)

    def placements_unknown(self, client_order_ids: Iterable[str]) -> None:
        """A gateway that died may have sent these placements just now: count them as sent now,
        so "not found" is trusted only once they can no longer execute."""
        now = self._clock()
        for client_order_id in client_order_ids:
            self._unsettled[client_order_id] = now

    async def _lookup(self, symbol: str, client_order_ids: list[str]) -> list[OrderState]:
        """The orders found by these client ids; TemporaryError when the exchange cannot say."""
        found = []
        for client_order_id in client_order_ids:
            with contextlib.suppress(OrderNotFound):
                found.append(await self.fetch_order(symbol=symbol, client_order_id=client_order_id))
        return found

    async def _lookup_before_placing(self, symbol: str, client_order_ids: list[str]) -> list[OrderState]:
        """The orders already placed with these client ids; when an earlier placement of them
        ended unknown and may still execute, "none" is trusted only once it no longer can."""
        sent_at = self._unsettled.get(client_order_ids[0])
        if sent_at is None:
            return await self._lookup(symbol, client_order_ids)
        found = await self._settled_lookup(
            symbol, client_order_ids, sent_at, TemporaryError("an earlier try's outcome is unknown")
        )
        self._unsettled.pop(client_order_ids[0], None)
        return found

    async def _settled_lookup(
        self, symbol: str, client_order_ids: list[str], sent_at: float, error: TemporaryError
    ) -> list[OrderState]:
        """After a placement sent at `sent_at` failed with `error` (outcome unknown): the orders it
        made, or [] when the exchange has none *and* the request can no longer create one.

        A look-up that fails is no answer: TemporaryError, and nothing is placed (the caller
        keeps the order `submitting` and looks it up later). "Not found" counts only once the
        failed request is past its window (Binance's recvWindow, else the client's timeout):
        until then it may still be executed."""
        try:
            found = await self._lookup(symbol, client_order_ids)
            wait = sent_at + self._in_flight_seconds() - self._clock()
            if found or wait <= 0:
                return found
            logger.warning(
                "%s: order %s not found after %s; looking again in %.1f s, once the request can no longer execute",
                self.config.label,
                client_order_ids[0],
                error,
                wait,
            )
            await self._sleep(wait)
            return await self._lookup(symbol, client_order_ids)
        except TemporaryError as lookup_error:
            self._unsettled[client_order_ids[0]] = sent_at
            raise TemporaryError(
                f"{self.config.label}: order {client_order_ids[0]} may have been placed ({error}) and could not "
                f"be looked up ({lookup_error}); it will be looked up again before anything is placed",
                retry_after=lookup_error.retry_after,
            ) from None

    def _in_flight_seconds(self) -> float:
        """How long after it was sent a request may still be executed by the exchange."""
        recv_window = (self.client().options or {}).get("recvWindow")
        if recv_window:
            return float(recv_window) / 1000 + CLOCK_MARGIN_SECONDS
        return self.config.timeout_ms / 1000 + CLOCK_MARGIN_SECONDS

    async def create_protection(self, request: ProtectionRequest) -> list[OrderState]:
        """Stop-loss and take-profit on the exchange: an OCO pair where the exchange has one,
        a single stop or target order otherwise; ProtectionUnsupported when it cannot."""
        market = await self._market(request.symbol)
        both = request.stop_loss_price is not None and request.take_profit_price is not None
        if both and self.config.exchange_id in _OCO:
            return await _OCO[self.config.exchange_id](self, request, market)
        if both:
            raise ProtectionUnsupported(
                f"{self.config.exchange_id} cannot hold a stop-loss and a take-profit together through ccxt"
            )
        has = self.client().has
        legs = [
            (
                "createStopLossOrder",
                "stop-loss",
                request.stop_loss_client_order_id,
                OrderType.STOP_MARKET,
                {"stop_price": request.stop_loss_price},
                request.stop_loss_price,
            ),
            (
                "createTakeProfitOrder",
                "take-profit",
                request.take_profit_client_order_id,
                OrderType.TAKE_PROFIT_LIMIT,
                {"price": request.take_profit_price},
                request.take_profit_price,
            ),
        ]
        states = []
        for capability, name, client_id, order_type, prices, wanted in legs:
            if wanted is None:
                continue
            if not has.get(capability):
                raise ProtectionUnsupported(f"{self.config.exchange_id} has no {name} orders in ccxt")
            leg = OrderRequest(
                client_order_id=str(client_id),
                symbol=request.symbol,
                side=OrderSide.SELL,
                type=order_type,
                amount=request.amount,
                **prices,
            )
            states.append(await self.create_order(leg))
        return states

    async def close(self) -> None:
        if self._client is not None:
            session = self._client.session if not self._client.own_session else None
            await self._client.close()
            self._client = None
            if session is not None:
                await session.close()


async def _binance_oco(exchange: CcxtExchange, request: ProtectionRequest, market: Market) -> list[OrderState]:
    """Binance spot OCO (POST /api/v3/orderList/oco): a take-profit above, a stop-loss below."""
    client = exchange.client()
    params = {
        "symbol": market.id,
        "side": "SELL",
        "quantity": client.amount_to_precision(market.symbol, float(request.amount)),
        "aboveType": "LIMIT_MAKER",
        "abovePrice": client.price_to_precision(market.symbol, float(request.take_profit_price or 0)),
        "aboveClientOrderId": request.take_profit_client_order_id,
        "belowType": "STOP_LOSS",
        "belowStopPrice": client.price_to_precision(market.symbol, float(request.stop_loss_price or 0)),
        "belowClientOrderId": request.stop_loss_client_order_id,
        "listClientOrderId": f"{request.stop_loss_client_order_id}-l"[:36],
        "newOrderRespType": "FULL",
    }
    wanted = [str(request.stop_loss_client_order_id), str(request.take_profit_client_order_id)]

    # Placed by an earlier try whose answer was lost: return its legs, never a second list.
    found = await exchange._lookup_before_placing(market.symbol, wanted)
    if found:
        return found

    async def place() -> list[OrderState]:
        answer = await client.private_post_orderlist_oco(params)
        reports = answer.get("orderReports") or []
        return [
            order_from_ccxt(client.parse_order(report, client.markets[market.symbol]), market) for report in reports
        ]

    async def placed_already() -> list[OrderState]:  # a leg's client id is on an open order: it is placed
        return await exchange._lookup(market.symbol, wanted)

    return await exchange._place_once(market.symbol, wanted, place, placed_already)


_OCO: dict[str, Callable[[CcxtExchange, ProtectionRequest, Market], Awaitable[list[OrderState]]]] = {
    "binance": _binance_oco,
}
