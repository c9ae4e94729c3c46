"""The event dispatcher of the worker process: signed webhooks (one leader per subscription
range) and customer notifications (one leader), both following the event store's global feed."""

from __future__ import annotations

import asyncio

import asyncpg

from activities.providers import Notifier
from commerce.customer_notifications import CustomerNotifications
from commerce.notification_templates import NotificationTemplates
from commerce.payload_codec import codec_for
from commerce.settings import Settings
from commerce.webhook_dispatcher import RANGES, DeliveryPolicy, RangeDispatcher


class EventDispatcher:
    """Every feed follower that tells the outside world, for one worker process."""

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, notifier: Notifier, ranges: int = RANGES
    ) -> None:
        codec, policy = codec_for(settings), DeliveryPolicy(settings)
        self.ranges = [RangeDispatcher(pool, codec, policy, n, ranges) for n in range(ranges)]
        self.notifications = CustomerNotifications(
            pool, notifier, NotificationTemplates(settings.storefront_url)
        )

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; each follower gives up its leadership when it ends."""
        await asyncio.gather(
            self.notifications.run_forever(stop), *(r.run_forever(stop) for r in self.ranges)
        )
