"""The edges where bytes move: flow drivers over httpx, URL and host rules."""
