"""rose-gateway chat plugin."""
