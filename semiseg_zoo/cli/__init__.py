"""Command-line interfaces (thin: parse, call the API, report)."""
