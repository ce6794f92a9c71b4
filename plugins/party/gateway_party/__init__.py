"""rose-gateway plugin: parties across gateways, party chat and party rules."""
