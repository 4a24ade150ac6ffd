"""Alert bodies as TradingView sends them, and the messages a trader sees when one is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from trading.alerts import Action, alert_from_payload, alert_parse, payload_parse
from trading.errors import AlertInvalid


def body(**fields: Any) -> dict[str, Any]:
    return {"Symbol": "BTCUSDT", "Action": "BuyMarket", **fields}


def test_json_body_with_bom_and_whitespace_is_read() -> None:
    raw = "\ufeff  \n" + json.dumps(body()) + "\n  "
    assert payload_parse(raw.encode("utf-8"))["Symbol"] == "BTCUSDT"


def test_text_plain_body_is_read_like_json() -> None:
    assert payload_parse('{"Symbol": "BTCUSDT", "Action": "PING"}')["Action"] == "PING"


def test_non_json_body_is_rejected_with_the_reason() -> None:
    with pytest.raises(AlertInvalid, match="body is not valid JSON"):
        payload_parse(b"BuyMarket BTCUSDT")


def test_json_list_body_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="body must be a JSON object, not a list"):
        payload_parse(b"[1, 2]")


def test_empty_body_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="body is empty"):
        payload_parse(b"  \n")


def test_body_that_is_not_utf8_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="not valid UTF-8"):
        payload_parse(b'{"Symbol": "\xff"}')


def test_bare_nan_is_kept_as_text_and_rejected_in_a_price() -> None:
    payload = payload_parse(b'{"Symbol": "BTCUSDT", "Action": "BuyMarket", "Prix": NaN, "Volume": NaN}')
    assert payload["Volume"] == "NaN"
    with pytest.raises(AlertInvalid, match="Prix is not a number: 'NaN'"):
        alert_from_payload(payload)


def test_full_buy_alert_is_parsed_into_decimals() -> None:
    alert = alert_from_payload(
        {
            "Token": "secret",
            "Symbol": "BTCUSDT",
            "Exchange": "BINANCE",
            "Interval": "240",
            "BarTime": "2024-03-01T12:00:00Z",
            "Action": "BuyMarket",
            "Prix": 40000.5,
            "PrixSL": "38000",
            "PrixTP": 46000,
            "PourCent": "50",
            "Close": "40000.1",
            "UserID": "3",
            "UserExchangeID": 7,
            "ID": "alert-42",
        }
    )
    assert alert.action is Action.BUY_MARKET
    assert alert.prix == Decimal("40000.5")
    assert alert.prix_sl == Decimal(38000)
    assert alert.prix_tp == Decimal(46000)
    assert alert.pour_cent == Decimal(50)
    assert alert.close == Decimal("40000.1")
    assert (alert.user_id, alert.broker_id) == (3, 7)
    assert alert.alert_id == "alert-42"
    assert alert.interval == "240"
    assert alert.exchange == "BINANCE"
    assert alert.bar_time == datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_token_is_not_kept_in_the_payload() -> None:
    alert = alert_from_payload(body(Token="secret", Volume=12))
    assert "Token" not in alert.payload
    assert alert.payload["Volume"] == 12


def test_float_prices_are_read_through_their_text_not_binary_value() -> None:
    assert alert_from_payload(body(Prix=0.1)).prix == Decimal("0.1")


def test_pour_cent_defaults_to_100() -> None:
    assert alert_from_payload(body()).pour_cent == Decimal(100)


def test_pour_cent_above_100_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="PourCent must be more than 0 and at most 100, got 150"):
        alert_from_payload(body(PourCent=150))


def test_pour_cent_of_zero_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="PourCent must be more than 0"):
        alert_from_payload(body(PourCent="0"))


def test_action_is_accepted_in_any_case_and_normalised() -> None:
    assert alert_from_payload(body(Action="buymarket")).action is Action.BUY_MARKET
    assert alert_from_payload(body(Action=" maj ", PrixSL=1)).action is Action.MAJ


def test_missing_action_lists_the_valid_actions() -> None:
    with pytest.raises(AlertInvalid, match="Action is missing; valid actions: PING, BuyMarket, SellMarket"):
        alert_from_payload({"Symbol": "BTCUSDT"})


def test_unknown_action_lists_the_valid_actions() -> None:
    with pytest.raises(AlertInvalid, match="Action 'Buy' is not valid; valid actions: PING, BuyMarket"):
        alert_from_payload(body(Action="Buy"))


def test_miss_from_an_alert_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="MISS is written by Aristobot"):
        alert_from_payload(body(Action="MISS"))


def test_missing_symbol_is_rejected_for_every_action_even_ping() -> None:
    with pytest.raises(AlertInvalid, match="Symbol is missing"):
        alert_from_payload({"Action": "PING"})
    with pytest.raises(AlertInvalid, match="Symbol is missing"):
        alert_from_payload({"Action": "BuyMarket", "Symbol": "  "})


def test_unreplaced_tradingview_placeholder_is_named_in_the_message() -> None:
    with pytest.raises(AlertInvalid, match=r"Prix is not a number: '\{\{close\}\}'"):
        alert_from_payload(body(Prix="{{close}}"))


@pytest.mark.parametrize("bad", ["Infinity", "-Infinity", "nan", "abc", True])
def test_prices_that_are_not_finite_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(AlertInvalid, match="PrixSL is not a number"):
        alert_from_payload(body(PrixSL=bad))


@pytest.mark.parametrize("bad", [0, "-5", -0.5])
def test_zero_and_negative_prices_are_rejected(bad: object) -> None:
    with pytest.raises(AlertInvalid, match="Prix must be more than 0"):
        alert_from_payload(body(Prix=bad))


def test_empty_optional_fields_count_as_absent() -> None:
    alert = alert_from_payload(body(PrixSL="", PrixTP=None, Close=" "))
    assert (alert.prix_sl, alert.prix_tp, alert.close) == (None, None, None)


def test_buy_limit_needs_prix() -> None:
    with pytest.raises(AlertInvalid, match="BuyLimit needs Prix"):
        alert_from_payload(body(Action="BuyLimit"))


def test_sell_limit_needs_prix() -> None:
    with pytest.raises(AlertInvalid, match="SellLimit needs Prix"):
        alert_from_payload(body(Action="SellLimit", Close=40000))


def test_maj_needs_a_stop_loss_or_take_profit() -> None:
    with pytest.raises(AlertInvalid, match="MAJ needs PrixSL or PrixTP"):
        alert_from_payload(body(Action="MAJ"))


def test_stop_loss_above_the_price_of_a_long_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="stop-loss 41000 is above the price 40000 of a long"):
        alert_from_payload(body(Prix=40000, PrixSL=41000))


def test_take_profit_below_the_close_of_a_long_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match="take-profit 39000 is below the price 40000 of a long"):
        alert_from_payload(body(Close=40000, PrixTP=39000))


def test_stop_loss_above_take_profit_is_rejected_without_a_reference_price() -> None:
    with pytest.raises(AlertInvalid, match="stop-loss 46000 is not below the take-profit 38000"):
        alert_from_payload(body(PrixSL=46000, PrixTP=38000))


def test_sell_ignores_the_side_of_protection_prices() -> None:
    alert = alert_from_payload(body(Action="SellMarket", Prix=40000, PrixSL=41000))
    assert alert.prix_sl == Decimal(41000)


def test_user_ids_must_be_whole_numbers() -> None:
    with pytest.raises(AlertInvalid, match="UserExchangeID must be a positive whole number, got 'abc'"):
        alert_from_payload(body(UserExchangeID="abc"))
    with pytest.raises(AlertInvalid, match=r"UserID must be a positive whole number, got 1.5"):
        alert_from_payload(body(UserID=1.5))


def test_alert_id_is_read_from_alert_id_or_lowercase_id() -> None:
    assert alert_from_payload(body(AlertID=99)).alert_id == "99"
    assert alert_from_payload(body(id="abc")).alert_id == "abc"
    assert alert_from_payload(body()).alert_id is None


def test_bar_time_in_epoch_milliseconds_is_accepted() -> None:
    alert = alert_from_payload(body(BarTime=1_709_294_400_000))
    assert alert.bar_time == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert alert_from_payload(body(BarTime="1709294400000")).bar_time == alert.bar_time


def test_bar_time_without_zone_is_utc() -> None:
    assert alert_from_payload(body(BarTime="2024-03-01T12:00:00")).bar_time == datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_bar_time_that_is_not_a_time_is_rejected() -> None:
    with pytest.raises(AlertInvalid, match=r"BarTime is not an ISO 8601 time: '\{\{time\}\}'"):
        alert_from_payload(body(BarTime="{{time}}"))


def test_field_names_are_found_case_insensitively() -> None:
    alert = alert_from_payload({"symbol": "ETHUSDT", "action": "SellMarket", "pourcent": 25})
    assert (alert.symbol, alert.action, alert.pour_cent) == ("ETHUSDT", Action.SELL_MARKET, Decimal(25))


def test_alert_parse_reads_bytes_end_to_end() -> None:
    alert = alert_parse(b'\xef\xbb\xbf{"Symbol":"BTC/USDT","Action":"PING","Interval":5}')
    assert (alert.action, alert.symbol, alert.interval) == (Action.PING, "BTC/USDT", "5")


def test_reference_price_is_prix_else_close() -> None:
    assert alert_from_payload(body(Close=10)).reference_price == Decimal(10)
    assert alert_from_payload(body(Close=10, Prix=11)).reference_price == Decimal(11)


def test_token_in_any_case_is_not_kept_in_the_payload() -> None:
    assert "token" not in alert_from_payload(body(token="secret")).payload


def test_token_nested_anywhere_is_not_kept_in_the_payload() -> None:
    from trading.alerts import payload_without_secrets

    kept = payload_without_secrets({"Symbol": "BTCUSDT", "meta": {"Token": "secret", "n": [{"token": "x", "k": 1}]}})
    assert kept == {"Symbol": "BTCUSDT", "meta": {"n": [{"k": 1}]}}


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "1e30"])
def test_ids_beyond_a_database_id_or_in_other_digits_are_refused(value) -> None:
    from trading.numbers import id_from

    assert id_from(value) is None
    with pytest.raises(AlertInvalid, match="UserExchangeID must be a positive whole number"):
        alert_from_payload(body(UserExchangeID=value))
