"""Pure domain model of the commerce service: money, carts, the order aggregate.

Nothing here does I/O or imports a framework; every other layer depends on
this package, never the reverse.
"""
