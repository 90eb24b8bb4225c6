"""Settings per environment; environment variables override the defaults (12-factor)."""

from config.settings import (
    Config,
    ConfigError,
    Development,
    Production,
    Testing,
    settings_for,
)

__all__ = ["Config", "ConfigError", "Development", "Production", "Testing", "settings_for"]
