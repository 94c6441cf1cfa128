"""The shared platform: encryption, logging, network, event bus, secrets and the function component."""

__all__: list[str] = []
