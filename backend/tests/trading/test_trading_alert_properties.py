"""Properties of the alert parser: whatever a body holds, the result is a parsed alert that the
records and the exchange can hold, or AlertInvalid with a message, never another exception."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trading.alerts import ALERT_ACTIONS, Alert, alert_from_payload, alert_parse, interval_parse, payload_parse
from trading.errors import AlertInvalid
from trading.numbers import NUMBER_MAX, NUMBER_MIN

FIELDS: tuple[str, ...] = ("Symbol", "Action", "Prix", "PrixSL", "PrixTP", "PourCent", "Close", "BarTime")
FIELDS += ("Interval", "UserID", "UserExchangeID", "Exchange", "ID", "AlertID")

numbers_as_text = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.from_regex(r"-?[0-9]{1,60}(\.[0-9]{1,60})?([eE][-+]?[0-9]{1,6})?", fullmatch=True),
    st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "1e999999999", "1E-999999999", "{{close}}", "٣", "²"]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80)
)
values = st.one_of(
    numbers_as_text,
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    st.sampled_from([*ALERT_ACTIONS, "MISS", "BTCUSDT", "BTC/USDT", "2024-01-01T00:00:00", "5", "999999999W"]),
)
payloads = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values, max_size=12)


def _check_bounded(alert: Alert) -> None:
    for price in (alert.prix, alert.prix_sl, alert.prix_tp, alert.close):
        if price is not None:
            assert NUMBER_MIN <= price <= NUMBER_MAX
            assert price.as_tuple().exponent >= -12  # type: ignore[operator]
    assert Decimal("0.001") <= alert.pour_cent <= 100
    assert alert.pour_cent.as_tuple().exponent >= -3  # type: ignore[operator]
    assert len(alert.symbol) <= 40
    json.dumps(alert.payload)  # storable as the raw payload


def _parsed_or_invalid(payload: dict[str, Any]) -> None:
    try:
        alert = alert_from_payload({"Symbol": "BTCUSDT", "Action": "BuyMarket", **payload})
    except AlertInvalid as error:
        assert str(error)
    else:
        _check_bounded(alert)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
@example({"Action": "BuyLimit", "Prix": "1234567890123456789012345678901234567890"})
@example({"Action": "BuyLimit", "Prix": "1.234567890123456789012345678901234567890"})
@example({"Prix": "0.0000000000000000000000000000000000000001"})
@example({"PourCent": "0.0000001"})
@example({"BarTime": 10**30})
@example({"BarTime": "1e999999999"})
@example({"BarTime": "0001-01-01T00:00:00+01:00"})
@example({"Symbol": 10**5000})
def test_any_field_values_give_a_bounded_alert_or_a_clear_error(payload: dict[str, Any]) -> None:
    _parsed_or_invalid(payload)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(("Prix", "PrixSL", "PrixTP", "Close", "PourCent")), numbers_as_text)
def test_any_number_in_a_number_field_gives_a_bounded_alert_or_a_clear_error(name: str, number: str) -> None:
    _parsed_or_invalid({"Action": "SellLimit", "Prix": "1", name: number})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
@example("[" * 5000 + "]" * 5000)
@example('{"Prix": ' + "9" * 5000 + "}")
@example('{"Symbol": "BTCUSDT", "Action": "BuyMarket", "Prix": NaN, "PrixSL": Infinity}')
@example("\ufeff" + json.dumps({"Symbol": "BTCUSDT", "Action": "PING"}))
def test_any_body_gives_an_alert_or_a_clear_error(body: str | bytes) -> None:
    try:
        alert = alert_parse(body)
    except AlertInvalid as error:
        assert str(error)
    else:
        _check_bounded(alert)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
@example("999999999W")
@example("9999999999")
def test_any_interval_is_a_duration_of_at_most_a_year_or_a_clear_error(text: str) -> None:
    try:
        length = interval_parse(text)
    except AlertInvalid as error:
        assert str(error)
    else:
        assert 0 < length.total_seconds() <= 366 * 86400


def test_prix_of_forty_digits_is_refused_as_too_large() -> None:
    with pytest.raises(AlertInvalid, match=r"Prix .* is too large"):
        alert_from_payload({"Symbol": "BTCUSDT", "Action": "BuyLimit", "Prix": "1" * 40})


def test_prix_finer_than_the_records_is_rounded_to_twelve_decimals() -> None:
    alert = alert_from_payload({"Symbol": "BTCUSDT", "Action": "BuyLimit", "Prix": "0.30000000000000004"})
    assert alert.prix == Decimal("0.300000000000")


def test_prix_too_small_to_record_is_refused() -> None:
    with pytest.raises(AlertInvalid, match=r"Prix .* is too small"):
        alert_from_payload({"Symbol": "BTCUSDT", "Action": "BuyLimit", "Prix": "1e-13"})


def test_deeply_nested_body_is_invalid_json_not_a_crash() -> None:
    with pytest.raises(AlertInvalid, match="nested too deep"):
        payload_parse("[" * 100_000 + "]" * 100_000)


def test_bar_time_of_an_astronomical_epoch_is_refused() -> None:
    with pytest.raises(AlertInvalid, match="BarTime"):
        alert_from_payload({"Symbol": "BTCUSDT", "Action": "PING", "BarTime": "1e999999999"})
