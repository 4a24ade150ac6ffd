"""Symbol resolution through the markets, rounding to steps, and the exchange's minimums."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import AlertInvalid, OrderInvalid
from trading.markets import Market, amount_round, order_check_limits, price_round, symbol_resolve
from trading.paper.markets import PAPER_MARKETS


def market(symbol: str, market_id: str, **limits: Decimal) -> Market:
    base, quote = symbol.split(":")[0].split("/")
    return Market(
        symbol=symbol,
        id=market_id,
        base=base,
        quote=quote,
        amount_step=Decimal("0.001"),
        price_step=Decimal("0.01"),
        **limits,
    )


def test_resolves_btcusdt_through_market_ids() -> None:
    assert symbol_resolve("BTCUSDT", PAPER_MARKETS).symbol == "BTC/USDT"


def test_resolves_a_unified_symbol() -> None:
    assert symbol_resolve("ETH/USDT", PAPER_MARKETS).id == "ETHUSDT"


@pytest.mark.parametrize("raw", ["btcusdt", "btc/usdt", "BINANCE:BTCUSDT", "binance:btcusdt", "BTC-USDT", "BTC_USDT"])
def test_resolves_the_forms_traders_write(raw: str) -> None:
    assert symbol_resolve(raw, PAPER_MARKETS).symbol == "BTC/USDT"


def test_resolution_uses_ids_not_a_fixed_split() -> None:
    # A four-letter quote: slicing off the last four characters would give "BTCF" / "DUSD".
    markets = {m.symbol: m for m in [market("BTC/FDUSD", "BTCFDUSD"), market("1000SATS/USDT", "1000SATSUSDT")]}
    assert symbol_resolve("BTCFDUSD", markets).symbol == "BTC/FDUSD"
    assert symbol_resolve("1000SATSUSDT", markets).symbol == "1000SATS/USDT"


def test_an_exchange_id_unlike_the_symbol_is_found() -> None:
    markets = {"BTC/USDT": market("BTC/USDT", "XBTUSDT")}
    assert symbol_resolve("XBTUSDT", markets).symbol == "BTC/USDT"
    assert symbol_resolve("BTCUSDT", markets).symbol == "BTC/USDT"


def test_spot_market_wins_over_a_swap_with_the_same_id() -> None:
    markets = {m.symbol: m for m in [market("BTC/USDT:USDT", "BTCUSDT"), market("BTC/USDT", "BTCUSDT")]}
    assert symbol_resolve("BTCUSDT", markets).symbol == "BTC/USDT"
    assert symbol_resolve("BTC/USDT:USDT", markets).symbol == "BTC/USDT:USDT"


def test_unknown_symbol_is_named_in_the_error() -> None:
    with pytest.raises(AlertInvalid, match="Symbol 'FOOBAR' matches no market"):
        symbol_resolve("FOOBAR", PAPER_MARKETS)


def test_perpetual_symbol_gets_a_hint() -> None:
    with pytest.raises(AlertInvalid, match="perpetual futures are not supported"):
        symbol_resolve("BTCUSDT.P", PAPER_MARKETS)


def test_paper_markets_cover_the_common_binance_pairs() -> None:
    assert len(PAPER_MARKETS) >= 50
    for base in ["BTC", "ETH", "SOL", "XRP", "DOGE", "POL", "SHIB", "PEPE", "SUI", "TIA", "MKR"]:
        assert f"{base}/USDT" in PAPER_MARKETS
    btc = PAPER_MARKETS["BTC/USDT"]
    assert (btc.amount_step, btc.price_step, btc.min_amount, btc.min_cost) == (
        Decimal("0.00001"),
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal(5),
    )
    assert all(m.taker_fee == Decimal("0.001") for m in PAPER_MARKETS.values())


def test_amount_is_rounded_down_to_the_step(btc: Market) -> None:
    assert amount_round(Decimal("0.1248751"), btc) == Decimal("0.12487")
    assert str(amount_round(Decimal("0.1248751"), btc)) == "0.12487"


def test_amount_below_one_step_rounds_to_zero(btc: Market) -> None:
    assert amount_round(Decimal("0.000009"), btc) == 0


def test_amount_with_an_integer_step_has_no_exponent() -> None:
    doge = PAPER_MARKETS["DOGE/USDT"]
    assert str(amount_round(Decimal("123.9"), doge)) == "123"


def test_price_is_rounded_to_the_nearest_step(btc: Market) -> None:
    assert price_round(Decimal("40000.126"), btc) == Decimal("40000.13")
    assert price_round(Decimal("40000.124"), btc) == Decimal("40000.12")


def test_amount_below_the_minimum_is_refused_with_the_numbers() -> None:
    strict = market("BTC/USDT", "BTCUSDT", min_amount=Decimal("0.0001"))
    with pytest.raises(OrderInvalid, match=r"amount 0.00001 BTC is below the minimum 0.0001 for BTC/USDT"):
        order_check_limits(amount=Decimal("0.00001"), price=Decimal(40000), market=strict)


def test_order_value_below_the_minimum_cost_is_refused_with_the_numbers(btc: Market) -> None:
    with pytest.raises(OrderInvalid, match=r"order value 3.20 USDT is below the minimum 5 USDT for BTC/USDT"):
        order_check_limits(amount=Decimal("0.00008"), price=Decimal(40000), market=btc)


def test_amount_of_zero_says_it_rounds_to_zero(btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="amount rounds to zero for BTC/USDT"):
        order_check_limits(amount=Decimal(0), price=Decimal(40000), market=btc)


def test_order_at_the_minimums_passes(btc: Market) -> None:
    order_check_limits(amount=Decimal("0.000125"), price=Decimal(40000), market=btc)
