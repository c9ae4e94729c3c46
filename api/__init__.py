"""The FastAPI front end: carts, checkout, orders, admin, health."""
