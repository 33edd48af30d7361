"""Alerts: homicide-review triggers and emerging hot spots (rules, notify hook)."""
