"""Shared test helpers, imported as ``tests.strategies.<module>`` (the repository root is on ``sys.path``:
``pythonpath`` in pyproject's pytest options).

- ``contracts``: strategies and assertions of the handler contract tests (API, GraphQL, batch handlers).
- ``consumers``: strategies of the webhook receiver's and the event consumers' contract tests.
- ``faults``: fault injection against moto and the redelivery of event sources.
- ``config``: schema-derived bad stack configs.
- ``moto_tables``: the tables (and the booking saga) handler tests create in moto, as the components declare them.
"""
