"""The `commerce` command: infra, dev, api, worker, migrate, projector, projections, token,
customer-key, codec-server, reconcile, bench."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable

from pydantic import ValidationError

from commerce.redaction import redacted
from commerce.settings import Settings, get_settings


def _setting_error(error: ValidationError) -> str:
    """One line naming each bad setting (never its value: it may be a secret)."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        field = str(item["loc"][0]) if item["loc"] else None
        if field in Settings.model_fields:
            problems.append(f"{Settings.env_name(field)}: {message}")
        else:  # a rule across settings: its message names them
            problems.append(message)
    return "; ".join(problems)


def _cmd_infra(settings: Settings, _: argparse.Namespace) -> int:
    from commerce.infra import run_infra

    return asyncio.run(run_infra(settings))


def _cmd_dev(settings: Settings, _: argparse.Namespace) -> int:
    from commerce.dev import run_dev

    return asyncio.run(run_dev(settings))


def _cmd_api(settings: Settings, _: argparse.Namespace) -> int:
    from api.server import serve

    serve(settings)
    return 0


def _cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    from worker import serve

    return serve(settings)  # on uvloop where installed


def _cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    from commerce.connections import migrate, register_search_attributes

    applied = asyncio.run(migrate(settings))
    print(f"schema up to date ({len(applied)} migration(s) applied)")
    added = asyncio.run(register_search_attributes(settings))
    print(f"search attributes registered ({', '.join(added) or 'none missing'})")
    return 0


def _cmd_projector(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_run_projector(settings))


async def _run_projector(settings: Settings) -> int:
    import signal

    from commerce.connections import create_pool
    from eventstore.projections import Projector

    pool = await create_pool(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await Projector(pool).run_forever(stop)
    finally:
        await pool.close()
    return 0


def _cmd_projections(settings: Settings, _: argparse.Namespace) -> int:
    applied = asyncio.run(_rebuild_projections(settings))
    # When a worker's projector leads, this process only resets and the leader catches up.
    print(f"read models reset; {applied} event(s) projected by this command")
    return 0


async def _rebuild_projections(settings: Settings) -> int:
    from commerce.connections import create_pool
    from eventstore.projections import Projector

    pool = await create_pool(settings)
    try:
        return await Projector(pool).rebuild()
    finally:
        await pool.close()


def _cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from commerce.tokens import mint_token

    roles = sorted({"customer", *args.role})
    try:
        print(mint_token(settings, args.subject, roles, ttl_s=args.ttl))
    except ValueError as error:
        print(f"commerce token: {error}", file=sys.stderr)
        return 2
    return 0


def _cmd_customer_key(settings: Settings, args: argparse.Namespace) -> int:
    from commerce.customer_keys import customer_search_key

    print(customer_search_key(settings, args.subject))
    return 0


def _cmd_codec_server(settings: Settings, _: argparse.Namespace) -> int:
    from commerce.codec_server import serve_codec

    serve_codec(settings)
    return 0


def _cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from commerce.reconcile_command import run_reconcile

    return asyncio.run(run_reconcile(settings, args.since, args.json))


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from commerce.bench.run import run_bench

    return asyncio.run(run_bench(settings, args))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def _soak_orders(text: str) -> int:
    value = int(text)
    if value < 10:  # one sample per 10% of the orders needs an order in each
        raise argparse.ArgumentTypeError(f"a soak needs at least 10 orders, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="commerce", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("infra", help="start embedded Temporal, PostgreSQL and Redis; print addresses")
    sub.add_parser("dev", help="infra + migrations + demo catalog + one worker + the API on :8084")
    sub.add_parser("api", help="serve the HTTP API")
    sub.add_parser("worker", help="run a Temporal worker (workflows, activities, projector)")
    sub.add_parser("migrate", help="apply the event store and read model schema (idempotent)")
    sub.add_parser("projector", help="project events into the read models until stopped")
    projections = sub.add_parser("projections", help="manage the read models")
    projections_sub = projections.add_subparsers(dest="action", required=True)
    projections_sub.add_parser(
        "rebuild", help="empty the read models and project every event again"
    )
    token = sub.add_parser("token", help="print a JWT for local use")
    token.add_argument("subject", help="customer id (the `sub` claim)")
    token.add_argument("--role", action="append", default=[], choices=["customer", "admin"])
    token.add_argument("--ttl", type=int, default=None, help="seconds until it expires")
    customer_key = sub.add_parser(
        "customer-key", help="print the CustomerId search attribute of a customer's sagas"
    )
    customer_key.add_argument("subject", help="customer id (the `sub` claim)")
    sub.add_parser("codec-server", help="the Temporal UI's remote codec: decrypts payloads for it")
    reconcile = sub.add_parser(
        "reconcile",
        help="compare every order's money events with the payment provider's records;"
        " exit 1 on any mismatch, 2 when it cannot run",
    )
    reconcile.add_argument(
        "--since", default=None, help="orders placed at or after this date or RFC 3339 time"
    )
    reconcile.add_argument("--json", action="store_true", help="the report as JSON")
    bench = sub.add_parser("bench", help="measure throughput beside baselines in the same run")
    runs = bench.add_mutually_exclusive_group()
    runs.add_argument("--quick", action="store_true", help="small counts, for CI")
    runs.add_argument(
        "--soak", type=_soak_orders, nargs="?", const=5_000, default=None, metavar="N",
        help="instead: N orders (5,000 when N is left out), sampled at every 10%%: latency, RSS"
        " and bytes per order of the last 10%% against the first; after each 10%%, as many bare"
        " workflows on the same servers, their latency and CPU per order by process beside ours",
    )  # fmt: skip
    bench.add_argument(
        "--soak-concurrency",
        type=_positive,
        default=50,
        metavar="C",
        help="orders (and bare workflows) in flight during --soak (default 50)",
    )
    bench.add_argument("--json", dest="json_path", default=None, help="also write results here")
    bench.add_argument(
        "--plot", dest="plot_path", default=None, help="also plot rates vs concurrency (PNG)"
    )
    return parser


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "infra": _cmd_infra,
    "dev": _cmd_dev,
    "api": _cmd_api,
    "worker": _cmd_worker,
    "migrate": _cmd_migrate,
    "projector": _cmd_projector,
    "projections": _cmd_projections,
    "token": _cmd_token,
    "bench": _cmd_bench,
    "reconcile": _cmd_reconcile,
    "customer-key": _cmd_customer_key,
    "codec-server": _cmd_codec_server,
}


# Commands that open a Temporal client and end: the SDK's core threads can abort the interpreter's
# teardown (temporalio/sdk-python#300, "PyGILState_Release ... must be current"), so they leave
# without it once their output is flushed.
_ENDS_WITH_A_TEMPORAL_CLIENT = {"migrate"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        print(f"commerce: bad setting: {_setting_error(error)}", file=sys.stderr)
        return 2
    from commerce.logs import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    code = _run(args, settings)
    if args.command in _ENDS_WITH_A_TEMPORAL_CLIENT:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return _COMMANDS[args.command](settings, args)
    except KeyboardInterrupt:
        return 130
    except (OSError, TimeoutError, RuntimeError) as error:
        print(f"commerce {args.command}: {redacted(str(error))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
