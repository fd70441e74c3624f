"""Member submissions: files members send (CSV or XLSX), checked against their template's data contract.

Nothing is silently dropped: valid rows load, rejected rows go to ``quarantine`` with their reasons, and a
report for the member lists each rejected row with its row number, column, value and the fix. A file that
cannot be read safely is refused whole, with a clear error, and changes nothing.
"""
