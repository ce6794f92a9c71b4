"""rose-gateway items plugin: item packet handlers over the character and world services."""
