"""Binance's error answers: `{"code": -2010, "msg": "..."}` with the HTTP status Binance uses.

ccxt's `binance.handle_errors` maps the code (and a few exact messages) to its exception
classes, so the codes and messages here are Binance's own, word for word.
"""

from __future__ import annotations

from collections.abc import Mapping


class BinanceError(Exception):
    """An error answer of the simulated Binance API; raised by services, formatted by the app."""

    def __init__(self, code: int, msg: str, *, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


# Messages Binance sends word for word; ccxt matches some of them exactly.
INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
UNKNOWN_ORDER = "Unknown order sent."
ORDER_DOES_NOT_EXIST = "Order does not exist."
WOULD_TRIGGER = "Stop price would trigger immediately."
WOULD_TAKE = "Order would immediately match and take."
BAD_OCO_PRICES = "The relationship of the prices for the orders is not correct."


def order_rejected(msg: str) -> BinanceError:
    """-2010 NEW_ORDER_REJECTED (ccxt: InvalidOrder; InsufficientFunds for the balance message)."""
    return BinanceError(-2010, msg)


def filter_failure(name: str) -> BinanceError:
    """-1013 "Filter failure: LOT_SIZE" (ccxt: InvalidOrder for LOT_SIZE / PRICE_FILTER, BadRequest otherwise)."""
    return BinanceError(-1013, f"Filter failure: {name}")


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_characters(name: str, legal: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")
