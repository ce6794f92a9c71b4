"""Run the reference chat service alone (for the cross-process tests).

``python run_service.py QUEUE_LIMIT``: binds 127.0.0.1 on a free port, prints the port on one
line, serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import grpc
from gateway_chat.service import ChatReferenceService


async def main(queue_limit: int) -> None:
    service = ChatReferenceService(queue_limit=queue_limit)
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
    asyncio.run(main(int(sys.argv[1])))
