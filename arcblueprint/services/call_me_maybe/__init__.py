"""Call me maybe: third-party webhooks verified, buffered and consumed at a pace the downstream can take."""

from arcblueprint.services.call_me_maybe.spec import CallMeMaybeSpec

__all__ = ["CallMeMaybeSpec"]
