"""`commerce api`: uvicorn with uvloop and httptools (1.8x the request rate of asyncio + h11)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.metrics import serve_metrics
from commerce.settings import Settings


def serve(settings: Settings) -> None:
    app = create_app(settings)  # refuses a production with simulated providers before anything
    serve_metrics(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=settings.api_keep_alive_s,
    )
