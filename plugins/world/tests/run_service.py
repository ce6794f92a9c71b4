"""Run the reference world service alone (for the cross-process tests).

``python run_service.py VIEW_RADIUS TICK_INTERVAL``: binds 127.0.0.1 on a free port, prints the
port on one line, serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import grpc
from gateway_world.service import WorldReferenceService


async def main(view_radius: float, tick_interval: float) -> None:
    service = WorldReferenceService(view_radius=view_radius, tick_interval=tick_interval)
    await service.start()
    server = grpc.aio.server()
    service.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    # Serve until the parent closes our stdin (or kills us).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await service.stop()
    await server.stop(0.5)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
