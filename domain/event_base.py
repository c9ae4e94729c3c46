"""The base every order event derives from."""

from dataclasses import dataclass
from typing import Any, ClassVar

from domain.codec import encode


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Base of every order event; `type` is the class name, the key in the store."""

    type: ClassVar[str] = "DomainEvent"
    order_id: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Explicit super: slots=True replaces the class, so the zero-argument form breaks.
        super(DomainEvent, cls).__init_subclass__(**kwargs)
        cls.type = cls.__name__

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = encode(self)
        return data
