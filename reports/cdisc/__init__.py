"""CDISC interchange: SDTM AE, DM, EX, LB and ADaM ADAE built from the ward's records, written as SAS XPORT v5,
Dataset-JSON 1.1 and described by Define-XML 2.1 (``docs/cdisc.md`` lists every variable, its source and why a
variable stays empty)."""
