"""A plain-English summary of an agreement, for sign-off by people who do not read YAML."""

from __future__ import annotations

from hub.policy.agreement import Agreement


def summarise(agreement: Agreement) -> str:
    lines = [f"Agreement {agreement.id} version {agreement.version}: {agreement.partnership}", ""]
    lines.append("Parties:")
    lines += [f"  - {p.name} ({p.role})" for p in agreement.parties.values()]
    lines.append("Purposes:")
    lines += [f"  - {pid}: {text}" for pid, text in agreement.purposes.items()]
    for name, src in agreement.sources.items():
        provider = agreement.parties[src.provider].name
        where = "the source, inside the agency" if src.pseudonymise_at == "source" else "the hub"
        # At-source sources never send raw records: retention applies to their pseudonymised events.
        kept = "pseudonymised events" if src.pseudonymise_at == "source" else "raw records"
        lines += ["", f"Source {name}, shared by {provider}",
                  f"  lawful basis: {src.lawful_basis}",
                  f"  pseudonymised at: {where}",
                  f"  purposes: {', '.join(src.purposes)}; {kept} kept {src.retention_days} days",
                  "  fields:"]
        for field, outputs in src.fields.items():
            lines.append(f"    {field}: " + "; ".join(o.describe() for o in outputs))
        lines.append("  any other field: dropped")
    sens = agreement.sensitive
    lines += ["", "Release profiles (what analysts and the public may see; every count perturbed by the cell key "
                  "method, then suppressed below the threshold):",
              f"  sensitive records: categories {', '.join(sens.categories) or 'none'}; offence codes "
              f"{', '.join(sens.offence_codes) or 'none'} (and every code the hub marks sensitive); flags "
              f"{', '.join(sens.flags) or 'none'}"]
    for prof in agreement.release_profiles.values():
        s, t = prof.standard, prof.sensitive
        lines.append(f"  {prof.name} ({prof.audience}): counts below {s.threshold} suppressed, "
                     f"rounding {s.rounding or 'none'}, "
                     f"finest area {s.finest_geography}; sensitive records: below {t.threshold} "
                     f"suppressed, rounding {t.rounding or 'none'}, finest area {t.finest_geography}")
    return "\n".join(lines)
