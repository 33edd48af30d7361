"""Deployment modes, one module each; ``hub.connectors.registry`` imports every module here.

To add a mode, add a module with a ``ModeSettings`` subclass (its config section) and a ``Mode``
subclass declared ``class MyMode(Mode, mode="my_mode", settings=MyModeConfig)``; see CONTRIBUTING.md.
"""
