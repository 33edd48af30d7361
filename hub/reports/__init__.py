"""Reports built from released tables: the strategic needs assessment and the assurance evidence."""
