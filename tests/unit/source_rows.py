"""One good extract row per source, by column header of the standard mapping (shared by the source tests).

Identifiers are canaries: distinctive strings a test can search for in everything that leaves.
"""

from __future__ import annotations

from hub.pseudonymisation import Area

CANARY_NAME = ("Zebedee", "Quillfeather")
CANARY_NHS = "943 476 5919"
CANARY_POSTCODE = "ZZ1 0FW"  # in the unit tests' one-postcode lookup (the ``lookup`` fixture)
AREA = Area("E01999001", "E02999001", "E06000099")  # where CANARY_POSTCODE is

GOOD_ROWS: dict[str, dict[str, str]] = {
    "ed_attendance": {
        "AttendanceNo": "ED25-000101", "SiteCode": "RZZ01", "ArrivalDateTime": "08/03/2025 00:40",
        "AssaultDateTime": "07/03/2025 23:55", "AssaultMethod": "kn",
        "AssaultMethodDesc": f"stabbed by {' '.join(CANARY_NAME)}, NHS {CANARY_NHS}",
        "AssaultLocationType": "Licensed premises (pub, bar, club)", "AssaultLocDesc": "The Quillfeather Arms",
        "AssailantRelationship": "ST", "AgeOnArrival": "23", "Sex": "M", "ResidenceLSOA": "",
        "ResidencePostcode": CANARY_POSTCODE,
    },
    "ambulance_callout": {
        "IncidentNumber": "AMB-250307-0042", "CallReceived": "2025-03-07 23:58:12", "IncidentCategory": "STAB",
        "IncidentPostcode": CANARY_POSTCODE, "IncidentLSOA": "", "PatientAge": "23", "PatientGender": "Male",
        "Conveyed": "Y", "CallNotes": f"caller {' '.join(CANARY_NAME)} says friend stabbed",
    },
    "probation_event": {
        "EVENT_ID": "2500012345", "CRN": "X552020", "PNC_NUMBER": "2012/0052494Q", "FIRST_NAME": CANARY_NAME[0],
        "SURNAME": CANARY_NAME[1], "DATE_OF_BIRTH": "1961-04-17", "GENDER": "M", "EVENT_TYPE": "sentence_start",
        "EVENT_DATE": "2025-03-10", "MAIN_OFFENCE_GROUP": "008", "SENTENCE_TYPE": "CO",
        "ORDER_START_DATE": "2025-03-10", "ORDER_END_DATE": "2026-03-09", "ROSH_LEVEL": "RHRH",
        "OGRS_BAND": "Medium", "RSR_BAND": "H", "MAPPA_LEVEL": "", "POSTCODE": CANARY_POSTCODE,
    },
    "youth_justice_event": {
        "OutcomeRef": "YJ-OUT-7731", "YJSClientID": "CV0048812", "PNCNumber": "2024/0117733K",
        "Forename": CANARY_NAME[0], "Surname": CANARY_NAME[1], "DateOfBirth": "17/04/2009", "Gender": "M",
        "OffenceCode": "008N", "GravityScore": "5", "OutcomeType": "Referral order", "OutcomeDate": "12/03/2025",
        "FirstTimeEntrant": "Y", "SubstanceMisuseConcern": "N", "ExploitationConcern": "Y",
        "MentalHealthConcern": "N", "ETEConcern": "Y", "Postcode": CANARY_POSTCODE,
    },
    "school_exclusion": {
        "ExclusionID": "EX-2025-0310-17", "UPN": "A123456789012", "Forename": CANARY_NAME[0],
        "Surname": CANARY_NAME[1], "DOB": "17/04/2011", "Gender": "F", "SchoolURN": "199001",
        "ExclusionCategory": "FIXD", "ExclusionReason1": "DB", "ExclusionReason2": "ow", "ExclusionReason3": "",
        "ExclusionStartDate": "10/03/2025", "ExclusionSessions": "6", "Postcode": CANARY_POSTCODE,
    },
    "referral": {
        "ReferralRef": "REF-000417", "ReferredAt": "11/03/2025 10:15", "ReferrerAgency": "SCH", "ReasonCode": "KNIFE",
        "Forename": CANARY_NAME[0], "Surname": CANARY_NAME[1], "DOB": "17/04/2009", "Sex": "M",
        "Postcode": CANARY_POSTCODE, "Notes": f"{CANARY_NAME[0]} showed a blade to classmates",
    },
    "intervention_activity": {
        "ActivityRef": "ACT-000212", "Programme": "MENTOR", "Provider": "Example Mentoring Trust", "LSOA": "",
        "Postcode": CANARY_POSTCODE, "AgeAtStart": "15", "Sex": "F", "StartDate": "03/03/2025", "EndDate": "",
        "Status": "OPEN",
    },
}

# Values that must never leave the privacy boundary, per source (besides the shared canaries).
IDENTIFIERS: dict[str, list[str]] = {
    "ed_attendance": ["Quillfeather", "943 476 5919", "9434765919", CANARY_POSTCODE],
    "ambulance_callout": ["Quillfeather", CANARY_POSTCODE],
    "probation_event": ["Quillfeather", "Zebedee", "X552020", "2012/0052494Q", "1961-04-17", CANARY_POSTCODE],
    "youth_justice_event": ["Quillfeather", "Zebedee", "CV0048812", "2024/0117733K", "2009-04-17",
                            CANARY_POSTCODE],
    "school_exclusion": ["Quillfeather", "Zebedee", "A123456789012", "2011-04-17", CANARY_POSTCODE],
    "referral": ["Quillfeather", "Zebedee", "2009-04-17", CANARY_POSTCODE, "blade to classmates"],
    "intervention_activity": [CANARY_POSTCODE],
}
