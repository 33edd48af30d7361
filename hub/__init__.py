"""Serious Violence Data Hub: pseudonymised multi-agency data sharing for the Serious Violence Duty."""

__version__ = "0.1.0"
