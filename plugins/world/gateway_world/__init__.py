"""rose-gateway world plugin."""
