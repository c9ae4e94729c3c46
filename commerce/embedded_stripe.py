"""localstripe, a stateful Stripe-API server from PyPI, run as an embedded server.

Run as `python -m commerce.embedded_stripe --port N --store FILE`, this module starts
localstripe's own aiohttp application with two changes of where, not of how: it listens on
127.0.0.1 only (localstripe's own command binds every interface), and it keeps its objects in
FILE (written whole, then renamed) instead of the /tmp/localstripe.pickle that every localstripe
on the machine shares; `--store ''` keeps nothing. Its webhooks live in memory, so the
supervisor registers ours again after every start.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from commerce.embedded import EmbeddedServer

WEBHOOK_ID = "commerce"
# What localstripe sends of a PaymentIntent's life (it has no other payment_intent.* event).
WEBHOOK_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")


@dataclass
class EmbeddedStripe(EmbeddedServer):
    """localstripe on a loopback port; signs its webhooks to `webhook_url` with `webhook_secret`."""

    webhook_url: str | None = None
    webhook_secret: str | None = None
    durable: bool = True

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "localstripe.pickle"

    def command(self) -> list[str]:
        store = str(self.store_path) if self.durable else ""
        return [sys.executable, "-m", "commerce.embedded_stripe", "--port", str(self.port),
                "--store", store]  # fmt: skip

    async def after_ready(self) -> None:
        if self.webhook_url and self.webhook_secret:
            await register_webhook(self.address, self.webhook_url, self.webhook_secret)


async def register_webhook(api_base: str, url: str, secret: str, hook_id: str = WEBHOOK_ID) -> None:
    """Have localstripe sign and send its PaymentIntent events to `url` (its `/_config` API)."""
    form = {"url": url, "secret": secret, "events[]": list(WEBHOOK_EVENTS)}
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(f"{api_base}/_config/webhooks/{hook_id}", data=form)
    answer.raise_for_status()


def _keep_store_in(path: Path | None) -> None:
    from localstripe import resources

    def dump(store: Any) -> None:
        if path is None:
            return
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as file:
            pickle.dump(store, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    def load(store: Any) -> None:
        if path is not None and path.exists():
            with path.open("rb") as file:
                store.update(pickle.load(file))

    resources.Store.dump_to_disk = dump
    resources.Store.try_load_from_disk = load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="commerce.embedded_stripe", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", default="", help="file that keeps the objects; '' = none")
    args = parser.parse_args(argv)
    try:
        from aiohttp import web
        from localstripe import resources, server
    except ImportError as missing:
        message = f"localstripe is not installed ({missing}): pip install -e '.[dev]'"
        raise SystemExit(message) from missing
    _keep_store_in(Path(args.store) if args.store else None)
    resources.store.try_load_from_disk()
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
