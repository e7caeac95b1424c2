"""Prices in minor units (cents), per currency, and what a period bills once paused days are taken
out. Integers throughout: no float ever touches an amount."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies without the usual two decimals.
_DECIMALS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3,
             "TND": 3}


class InvalidAmount(ValueError):
    pass


def decimals(currency: str) -> int:
    return _DECIMALS.get(currency.upper(), 2)


def to_minor(amount: Decimal | str, currency: str) -> int:
    """12.50 EUR -> 1250. More decimals than the currency has is refused, never rounded away."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise InvalidAmount(f"{amount!r} is not an amount") from error
    if not value.is_finite() or value < 0:
        raise InvalidAmount("An amount is a number of 0 or more.")
    scaled = value.scaleb(decimals(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{currency} amounts have at most {decimals(currency)} decimals; {amount} has more.")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    places = decimals(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def shown(minor: int, currency: str) -> str:
    return f"{from_minor(minor, currency):,} {currency}"


def period_amount(*, unit_price_minor: int, quantity: int, period_days: int, paused_days: int) -> int:
    """The period's price for the quantity, less the share of the paused days (half up to the cent)."""
    if period_days <= 0:
        return 0
    billed_days = max(period_days - paused_days, 0)
    exact = Decimal(unit_price_minor) * quantity * billed_days / period_days
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
