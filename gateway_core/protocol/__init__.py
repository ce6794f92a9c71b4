"""Sans-IO ROSE Online protocol layer: framing, cipher, packet types and codecs.

Nothing in this package may import anyio, grpc, prometheus_client or rich.
"""
