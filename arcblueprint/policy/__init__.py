"""The blueprint's CrossGuard rules, importable without starting a policy pack.

``policies/__main__.py`` is the pack's entry point: it is the only place that constructs
``PolicyPack`` (whose constructor starts the analyzer server and blocks). Everything else —
the rules (one module per area), the per-stack pack config and the offline evaluator that
``blueprint preview`` runs — lives here and is imported freely.

Modules: :mod:`.lambda_`, :mod:`.release`, :mod:`.api`, :mod:`.messaging`, :mod:`.data`,
:mod:`.network`, :mod:`.iam`, :mod:`.tagging`; :mod:`.pack` (``all_policies``),
:mod:`.config` (``pack_config_for``), :mod:`.offline` (``evaluate``).
"""

__all__: list[str] = []
