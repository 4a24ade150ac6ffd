"""ccxt's exceptions become the domain's, and no message ever carries a credential."""

from __future__ import annotations

import ccxt
import pytest

from trading.errors import (
    AuthenticationFailed,
    DuplicateOrder,
    ExchangeRejected,
    InsufficientFunds,
    OrderNotFound,
    TemporaryError,
)
from trading.live.errors import ccxt_error


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance"}'), InsufficientFunds),
        (ccxt.OrderNotFound("binance Unknown order sent."), OrderNotFound),
        (ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), DuplicateOrder),
        (ccxt.InvalidOrder("binance Filter failure: LOT_SIZE"), ExchangeRejected),
        (
            ccxt.AuthenticationError('binance {"code":-1022,"msg":"Signature for this request is not valid."}'),
            AuthenticationFailed,
        ),
        (
            ccxt.DDoSProtection('binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'),
            AuthenticationFailed,
        ),
        (ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order request timeout"), TemporaryError),
        (ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), TemporaryError),
        (ccxt.DDoSProtection('binance {"code":-1003,"msg":"Too many requests"}'), TemporaryError),
    ],
)
def test_ccxt_exception_becomes_the_domain_error_that_says_what_happens_next(raised, expected):
    error = ccxt_error(raised, broker_label="'Main' (#3, binance)")

    assert type(error) is expected


def test_rate_limit_carries_the_retry_after_header():
    error = ccxt_error(ccxt.DDoSProtection("binance 429"), broker_label="x", retry_after="2")

    assert isinstance(error, TemporaryError) and error.retry_after == 2.0


def test_authentication_error_names_the_broker():
    error = ccxt_error(ccxt.AuthenticationError("binance invalid key"), broker_label="'Main' (#3, binance)")

    assert "'Main' (#3, binance)" in str(error)


def test_messages_never_carry_keys_or_request_signatures():
    raised = ccxt.ExchangeError(
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=abcdef0123 "
        "apiKey=MYKEY123 failed with MYSECRET456"
    )

    message = str(ccxt_error(raised, broker_label="x", secrets=("MYKEY123", "MYSECRET456")))

    assert "abcdef0123" not in message and "MYKEY123" not in message and "MYSECRET456" not in message


@pytest.mark.parametrize(
    "raised",
    [
        ccxt.ExchangeNotAvailable(
            "binance GET http://10.0.0.1/api/v3/account 503 Service Unavailable <html>root:secret-page</html>"
        ),
        ccxt.BadResponse('binance {"instance-id": "i-0abc", "secret-page": "root:secret-page"}'),
        ccxt.ExchangeError('binance {"code": 1, "msg": "<b>root:secret-page</b>"}'),
        ccxt.ExchangeError('binance {"message": "' + "root:secret-page " * 20 + '"}'),
        ccxt.ExchangeError("binance GET http://10.0.0.1/ 418 I'm a teapot root:secret-page"),
        ccxt.ExchangeError("binance root:secret-page"),
        ccxt.DDoSProtection("binance 429 Too Many Requests root:secret-page"),
        RuntimeError("root:secret-page"),
    ],
)
def test_no_message_carries_the_raw_answer_only_the_log_does(raised, caplog):
    caplog.set_level("INFO", logger="trading.live.errors")

    message = str(ccxt_error(raised, broker_label="'Main' (#3, binance)"))

    assert "secret-page" not in message and "10.0.0.1" not in message and "<" not in message
    assert "'Main' (#3, binance)" in message
    assert "secret-page" in caplog.text


def test_the_exchanges_own_short_reason_and_code_are_kept():
    raised = ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}')

    message = str(ccxt_error(raised, broker_label="x"))

    assert message == 'order refused by x (exchange said: "Filter failure: NOTIONAL", code -1013)'


def test_an_unreachable_exchange_says_its_http_status():
    raised = ccxt.ExchangeNotAvailable("binance GET https://api.binance.com/api/v3/account 503 Service Unavailable")

    assert str(ccxt_error(raised, broker_label="x")) == "x: exchange unreachable or busy (HTTP 503)"


@pytest.mark.parametrize(
    "raised",
    [
        ccxt.ExchangeError('binance {"code":-1,"msg":"proxy says hello"}'),
        ccxt.ExchangeError('binance {"code":-2015,"msg":"Invalid API-key proxy says hello"}'),
        ccxt.BadResponse('binance {"code":-1,"msg":"proxy says hello"}'),
        ccxt.NullResponse('binance {"code":-1,"msg":"proxy says hello"}'),
        ccxt.ExchangeNotAvailable('binance {"code":-2015,"msg":"proxy says hello"}'),
        ccxt.AuthenticationError(
            'binance GET http://10.0.0.1/api/v3/account 401 Unauthorized {"msg":"proxy says hello"}'
        ),
        ccxt.RateLimitExceeded('binance GET http://10.0.0.1/api/v3/account 429 Too Many {"msg":"proxy says hello"}'),
    ],
)
def test_a_generic_or_status_only_error_never_shows_the_json_reason(raised):
    message = str(ccxt_error(raised, broker_label="x"))

    assert "proxy says hello" not in message and "code -1" not in message


@pytest.mark.parametrize(
    "raised",
    [
        ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'),
        ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance"}'),
        ccxt.RateLimitExceeded('binance {"code":-1003,"msg":"Too much request weight used"}'),
    ],
)
def test_a_specific_error_keeps_the_exchanges_json_reason(raised):
    assert "exchange said:" in str(ccxt_error(raised, broker_label="x"))
