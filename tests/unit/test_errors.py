"""Business failures the saga compensates for are one family with readable messages."""

import pickle

import pytest

from domain.errors import (
    AddressRejected,
    BusinessRuleViolation,
    CaptureDeclined,
    DomainError,
    OutOfStock,
    PaymentDeclined,
)

FAILURES = [PaymentDeclined, OutOfStock, AddressRejected, CaptureDeclined]


@pytest.mark.parametrize("error_type", FAILURES)
def test_business_failures_have_a_default_message(error_type: type[BusinessRuleViolation]) -> None:
    error = error_type()
    assert isinstance(error, BusinessRuleViolation) and isinstance(error, DomainError)
    assert str(error) == error_type.default_message


@pytest.mark.parametrize("error_type", FAILURES)
def test_business_failures_keep_a_specific_message_through_pickling(
    error_type: type[BusinessRuleViolation],
) -> None:
    error = pickle.loads(pickle.dumps(error_type("SKU-1: only 2 left")))
    assert type(error) is error_type and str(error) == "SKU-1: only 2 left"
