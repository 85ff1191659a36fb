"""Imported only by the hidden_actions_server's dynamic_import tool (sensor tests)."""

VALUE = 42
