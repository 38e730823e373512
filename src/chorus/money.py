"""Money: a Decimal amount with an ISO 4217 currency (Babel's currency data, offline)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

# Funds, metals and testing codes are not money a consumer pays with.
_NOT_PAYMENT = {"XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
MAX_AMOUNT = Decimal("1000000000")
# How the API writes an amount: digits, optionally a point and the minor units ("199.00").
AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,4})?$"


@cache
def currencies() -> frozenset[str]:
    return frozenset(c for c in list_currencies() if len(c) == 3 and c not in _NOT_PAYMENT)


class InvalidMoney(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse(amount: str | int | Decimal, currency: str) -> tuple[Decimal, str]:
    """Validate and quantize: positive, at most the currency's minor units, a known code."""
    code = currency.strip().upper()
    if code not in currencies():
        raise InvalidMoney("currency", "unknown_currency")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise InvalidMoney("amount", "not_a_number") from exc
    if not value.is_finite() or value <= 0:
        raise InvalidMoney("amount", "not_positive")
    if value >= MAX_AMOUNT:
        raise InvalidMoney("amount", "too_large")
    places = get_currency_precision(code)
    quantum = Decimal(1).scaleb(-places)
    if value != value.quantize(quantum):
        raise InvalidMoney("amount", "too_many_decimals")
    return value.quantize(quantum), code


def amount_text(value: object) -> object:
    """An amount sent as a JSON number, as the decimal string the API documents (anything
    else is left for validation to refuse)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def as_string(amount: Decimal, currency: str) -> str:
    """The API's money string: the currency's minor units, e.g. "199.00", "5000" for JPY."""
    places = get_currency_precision(currency)
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-places)))


def totals(items: Iterable[tuple[Decimal, str]]) -> list[dict[str, str]]:
    """Sum per currency, sorted by currency code."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for amount, currency in items:
        sums[currency] += Decimal(amount)
    return [{"amount": as_string(v, c), "currency": c} for c, v in sorted(sums.items())]
