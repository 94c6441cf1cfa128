"""Stack config: the typed model, its parser and the loader that reads it as the Pulumi CLI does."""

from arcblueprint.config.loader import PROJECT, engine_config, from_runtime, load, read_stack_file, stack_config
from arcblueprint.config.model import StackConfig
from arcblueprint.config.schema import ConfigError, parse, setting

__all__ = [
    "PROJECT",
    "ConfigError",
    "StackConfig",
    "engine_config",
    "from_runtime",
    "load",
    "parse",
    "read_stack_file",
    "setting",
    "stack_config",
]
