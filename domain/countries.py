"""The countries an order may ship to: ISO 3166-1's officially assigned alpha-2 codes (the
`iso3166` package's table, 249 of them) and XK (Kosovo), a user-assigned code the package lists
as carriers and payment providers take it. The exceptionally reserved (UK, EU) and the other
user-assigned codes (AA, QM-QZ, XA-XZ, ZZ) are not: a carrier takes GB, not UK.
"""

from iso3166 import countries_by_alpha2

__all__ = ["is_country"]


def is_country(code: object) -> bool:
    """True for an ISO 3166-1 alpha-2 code, in capitals as the standard writes it."""
    return isinstance(code, str) and code in countries_by_alpha2
