"""Money in integer minor units; floats never enter the arithmetic."""

from dataclasses import dataclass

from domain.errors import CurrencyMismatch, InvalidMoney


def _is_currency_code(code: object) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isascii()
        and code.isalpha()
        and code.isupper()
    )


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency's minor units (1999 USD is 19.99 dollars)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True cents would be a silent bug.
        if type(self.amount) is not int:
            raise InvalidMoney(f"amount must be an int, got {type(self.amount).__name__}")
        if not _is_currency_code(self.currency):
            raise InvalidMoney(f"currency must be an ISO 4217 code like USD, got {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(0, currency)

    def __add__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, n: int) -> "Money":
        if type(n) is not int:
            raise InvalidMoney(f"multiplier must be an int, got {type(n).__name__}")
        return Money(self.amount * n, self.currency)

    def _require_same_currency(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")
