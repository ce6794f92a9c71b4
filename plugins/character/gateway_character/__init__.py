"""rose-gateway character plugin."""
