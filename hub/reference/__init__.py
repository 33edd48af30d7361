"""Reference lookup tables shipped with the hub (offence codes, code lists)."""
