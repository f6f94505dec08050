"""The HTML report: sections of tables and plotly figures built from the analyses, in one offline page."""
