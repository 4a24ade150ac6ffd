"""Request parameters as Binance reads them: query string and form body, with Binance's checks."""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from urllib.parse import parse_qsl

from simulators.binance.errors import BinanceError, illegal_characters, mandatory, not_required

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
INTEGER_RANGE = r"^[0-9]{1,20}$"
CLIENT_ID_RANGE = r"^[a-zA-Z0-9-_]{1,36}$"
_DECIMAL = re.compile(DECIMAL_RANGE)
_INTEGER = re.compile(r"^-?[0-9]{1,20}$")
_CLIENT_ID = re.compile(CLIENT_ID_RANGE)
MAX_DECIMALS = 8  # Binance's asset precision: more decimals is -1111 "too much precision"


class Params:
    """One request's parameters; a parameter in both the query and the body takes the query's value."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    @classmethod
    def parse(cls, raw_query: str, raw_body: str) -> Params:
        values = dict(parse_qsl(raw_body, keep_blank_values=True))
        values.update(parse_qsl(raw_query, keep_blank_values=True))
        return cls(values)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        text = self.get(name)
        if text is None:
            return None
        if not _DECIMAL.match(text):
            raise illegal_characters(name, DECIMAL_RANGE)
        value = Decimal(text)
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
            raise BinanceError(-1111, f"Parameter '{name}' has too much precision.")
        return value

    def required_decimal(self, name: str) -> Decimal:
        value = self.decimal(name)
        if value is None:
            raise mandatory(name)
        return value

    def integer(self, name: str) -> int | None:
        text = self.get(name)
        if text is None:
            return None
        if not _INTEGER.match(text):
            raise illegal_characters(name, INTEGER_RANGE)
        return int(text)

    def choice(self, name: str, allowed: Collection[str], *, code: int, msg: str) -> str:
        value = self.required(name)
        if value not in allowed:
            raise BinanceError(code, msg)
        return value

    def client_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not _CLIENT_ID.match(value):
            raise illegal_characters(name, CLIENT_ID_RANGE)
        return value

    def forbid(self, *names: str) -> None:
        """-1106 for a parameter this order type does not take."""
        for name in names:
            if self.get(name) is not None:
                raise not_required(name)
