from reports.aet import aet_csv_lines, aet_xlsx_bytes
from reports.management.commands.export_ae_table import Command as TableCommand


class Command(TableCommand):
    help = "Write the AET01, AET02 and AET04 safety tables (patients with treatment-emergent AEs) as CSV or XLSX."
    csv_lines = staticmethod(aet_csv_lines)
    xlsx_bytes = staticmethod(aet_xlsx_bytes)
