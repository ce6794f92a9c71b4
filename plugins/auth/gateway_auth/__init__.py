"""rose-gateway auth plugin."""
