"""The engine version, stored in every model bundle and report."""

ENGINE_VERSION = "0.1.0"
