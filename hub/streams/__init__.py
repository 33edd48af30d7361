"""Stream processing (Faust): the pseudonymise and sink agents, and drain detection."""
