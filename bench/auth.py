"""Forged tokens while Microsoft's metadata host hangs or refuses: how fast the 401 comes,
and how fast /healthz answers throughout (issue: authentication can never freeze the bot).

    python -m bench.auth [--requests 2000] [--concurrency 50]

The real app (create_app) with credentials, on 127.0.0.1, its OpenID metadata pointed at
a loopback stub (tests/support/jwks.py). Three scenarios, each measured alone:
  warm-hang  - keys fetched at start, then the host accepts connections and never answers;
  cold-hang  - the host hangs from the start (the bot starts without keys);
  refused    - nothing listens where the metadata should be.
Forged tokens come in four shapes (unsigned, an attacker's key under its own key id,
an attacker's key under our key id, an expired token); /healthz is asked in a loop
alongside. Printed: 401 p50/p99/max, /healthz p50/p99/max, metadata fetches.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import COMPONENTS, create_app
from bot.settings import Settings
from tests.e2e.test_auth_resilience import APP_ID, APP_TENANT, SERVICE_URL, forged_tokens
from tests.support import activities as a
from tests.support.jwks import JwksStub


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/openid-configuration"


async def scenario(name: str, requests: int, concurrency: int) -> dict[str, float]:
    with JwksStub().running() as stub, tempfile.TemporaryDirectory() as tmp:
        if name == "cold-hang":
            stub.delay = 60.0
        metadata = closed_port_url() if name == "refused" else stub.metadata_url
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
            run_scheduler=False,
            app_id=APP_ID,
            app_password="not-a-real-secret",
            app_type="SingleTenant",
            app_tenant_id=APP_TENANT,
            public_url="https://bot.example.fi",
            openid_metadata_url=metadata,
        )
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        if name == "warm-hang":
            stub.delay = 60.0
        fetched = len(stub.requests)
        tokens = forged_tokens(stub)
        activity = a.execute(SERVICE_URL, a.user(1), "help.open", {})
        refused: list[float] = []
        health: list[float]
        statuses: set[int] = set()
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:

            async def forge(worker: int) -> None:
                for n in range(worker, requests, concurrency):
                    started = time.perf_counter()
                    headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
                    async with http.post(
                        f"{url}/api/messages", json=activity, headers=headers
                    ) as response:
                        await response.read()
                        statuses.add(response.status)
                    refused.append(time.perf_counter() - started)

            # /healthz is asked from a process of its own: in this one, its answer would
            # also wait behind the 50 forging coroutines on this process's event loop.
            spawn = multiprocessing.get_context("spawn")
            ready, stop, (receive, send) = spawn.Event(), spawn.Event(), spawn.Pipe(False)
            prober = spawn.Process(target=_probe, args=(f"{url}/healthz", ready, stop, send))
            prober.start()
            # The flood starts once the prober has had its first answer.
            await asyncio.get_running_loop().run_in_executor(None, ready.wait, 60)
            await asyncio.gather(*(forge(w) for w in range(concurrency)))
            stop.set()
            health = await asyncio.get_running_loop().run_in_executor(None, receive.recv)
            prober.join()
        keys = app[COMPONENTS].keys
        await runner.cleanup()
        return {
            "statuses": float(len(statuses - {401})),
            "401_p50_ms": 1000 * percentile(refused, 0.50),
            "401_p99_ms": 1000 * percentile(refused, 0.99),
            "401_max_ms": 1000 * max(refused),
            "healthz_p50_ms": 1000 * percentile(health, 0.50),
            "healthz_p99_ms": 1000 * percentile(health, 0.99),
            "healthz_max_ms": 1000 * max(health),
            "healthz_n": float(len(health)),
            "fetches_during_flood": float(
                len(stub.requests) - fetched
                if name != "refused"
                else (keys.fetches - 1 if keys else 0)
            ),
        }


def _probe(url: str, ready: Any, stop: Any, out: Any) -> None:
    """Ask `url` in a loop until `stop` is set; send back each answer's time, s."""

    async def loop() -> list[float]:
        times: list[float] = []
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                if ready.is_set():
                    times.append(time.perf_counter() - started)
                ready.set()
        return times

    out.send(asyncio.run(loop()))


SCENARIOS = ("warm-hang", "cold-hang", "refused")


def _run_one(name: str, requests: int, concurrency: int, out: Any) -> None:
    out.send(asyncio.run(scenario(name, requests, concurrency)))


def main_async(args: argparse.Namespace) -> None:
    print(f"{args.requests} forged requests, {args.concurrency} at a time\n")
    print(
        f"{'scenario':10} {'401 p50':>8} {'p99':>7} {'max':>7}   {'healthz p50':>11} "
        f"{'p99':>7} {'max':>7} {'n':>6}   fetches  non-401"
    )
    for name in SCENARIOS:
        # Each scenario in a fresh process: a hung connection of one must not slow the next.
        receive, send = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.Process(
            target=_run_one, args=(name, args.requests, args.concurrency, send)
        )
        process.start()
        r = receive.recv()
        process.join()
        refusals = f"{r['401_p50_ms']:7.1f}m {r['401_p99_ms']:6.1f}m {r['401_max_ms']:6.1f}m"
        health = (
            f"{r['healthz_p50_ms']:10.1f}m {r['healthz_p99_ms']:6.1f}m "
            f"{r['healthz_max_ms']:6.1f}m {int(r['healthz_n']):6d}"
        )
        others = f"{int(r['fetches_during_flood']):7d}  {int(r['statuses']):7d}"
        print(f"{name:10} {refusals}   {health}   {others}")
    print("\n(m = milliseconds; fetches = metadata requests while the flood ran)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.auth")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    main_async(parser.parse_args())


if __name__ == "__main__":
    main()
