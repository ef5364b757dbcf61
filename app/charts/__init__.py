"""The charts of the pages: one module a page, what they share in :mod:`app.charts.base`."""
