from reports.management.commands._cdisc import CdiscExportCommand


class Command(CdiscExportCommand):
    help = "Write the site's SDTM DM, AE, EX and LB (XPORT v5 or Dataset-JSON v1.1) with define.xml."
    kind = "sdtm"
