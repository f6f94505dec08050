"""Console scripts: asib-sweep (launch a study) and asib-report (read its results)."""
