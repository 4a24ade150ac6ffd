"""What each gateway operation does with an exchange adapter; results are JSON-ready."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.core.streams import GatewayOp, balance_to_dict, error_kind, market_to_dict, order_state_to_dict
from trading.errors import DuplicateOrder, OrderInvalid, OrderNotFound, TradingError
from trading.exchange import Exchange
from trading.numbers import decimal_text
from trading.orders import OrderRequest, OrderSide, OrderType, ProtectionRequest


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise OrderInvalid(f"not a number: {value!r}") from None


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise OrderInvalid(f"gateway request is missing '{name}'")
    return value


def order_request_from_params(params: dict[str, Any]) -> OrderRequest:
    amount = _dec(_required(params, "amount"))
    assert amount is not None
    return OrderRequest(
        client_order_id=str(_required(params, "client_order_id")),
        symbol=str(_required(params, "symbol")),
        side=OrderSide(params["side"]),
        type=OrderType(params["type"]),
        amount=amount,
        price=_dec(params.get("price")),
        stop_price=_dec(params.get("stop_price")),
        reference_price=_dec(params.get("reference_price")),
    )


def protection_request_from_params(params: dict[str, Any]) -> ProtectionRequest:
    amount = _dec(_required(params, "amount"))
    assert amount is not None
    return ProtectionRequest(
        symbol=str(_required(params, "symbol")),
        amount=amount,
        stop_loss_client_order_id=params.get("stop_loss_client_order_id"),
        stop_loss_price=_dec(params.get("stop_loss_price")),
        take_profit_client_order_id=params.get("take_profit_client_order_id"),
        take_profit_price=_dec(params.get("take_profit_price")),
    )


async def create_order_once(exchange: Exchange, request: OrderRequest) -> Any:
    """Place an order; adapters return the existing order for a known client order id, and a
    DuplicateOrder answer is resolved by fetching it, so a retry never doubles."""
    try:
        return order_state_to_dict(await exchange.create_order(request))
    except DuplicateOrder:
        existing = await exchange.fetch_order(symbol=request.symbol, client_order_id=request.client_order_id)
        return order_state_to_dict(existing)


async def _cancel_one(exchange: Exchange, symbol: str, client_order_id: str) -> dict[str, Any]:
    try:
        return {
            "order": order_state_to_dict(await exchange.cancel_order(symbol=symbol, client_order_id=client_order_id))
        }
    except TradingError as exc:
        return {"error_kind": error_kind(exc), "error_message": str(exc)}


async def handle(exchange: Exchange, op: GatewayOp, params: dict[str, Any]) -> Any:
    """Run one operation against one broker's exchange."""
    if op is GatewayOp.MARKETS:
        markets = await exchange.load_markets()
        return {symbol: market_to_dict(market) for symbol, market in markets.items()}
    if op is GatewayOp.BALANCE:
        result = balance_to_dict(await exchange.fetch_balance())
        if params.get("symbol"):  # sizing needs both: one round trip instead of two
            try:
                result["last"] = str(await exchange.fetch_ticker(str(params["symbol"])))
            except OrderNotFound:
                result["last"] = None
        return result
    if op is GatewayOp.TICKER:
        try:
            return str(await exchange.fetch_ticker(str(_required(params, "symbol"))))
        except OrderNotFound:
            return None
    if op is GatewayOp.CREATE_ORDER:
        return await create_order_once(exchange, order_request_from_params(params))
    if op is GatewayOp.CREATE_PROTECTION:
        states = await exchange.create_protection(protection_request_from_params(params))
        return [order_state_to_dict(state) for state in states]
    if op is GatewayOp.CANCEL_ORDER:
        state = await exchange.cancel_order(
            symbol=str(_required(params, "symbol")),
            order_id=params.get("order_id"),
            client_order_id=params.get("client_order_id"),
        )
        return order_state_to_dict(state)
    if op is GatewayOp.CANCEL_ORDERS:
        return [
            await _cancel_one(exchange, str(_required(params, "symbol")), cid) for cid in params["client_order_ids"]
        ]
    if op is GatewayOp.FETCH_ORDER:
        state = await exchange.fetch_order(
            symbol=str(_required(params, "symbol")),
            order_id=params.get("order_id"),
            client_order_id=params.get("client_order_id"),
        )
        return order_state_to_dict(state)
    if op is GatewayOp.OPEN_ORDERS:
        return [order_state_to_dict(state) for state in await exchange.fetch_open_orders(params.get("symbol"))]
    if op is GatewayOp.TEST_CONNECTION:
        balance = await exchange.fetch_balance()
        funded = {currency: decimal_text(amount) for currency, amount in balance.total.items() if amount > 0}
        return {"ok": True, "message": "keys accepted, balance read", "balances": funded}
    raise TradingError(f"unknown gateway operation {op}")
