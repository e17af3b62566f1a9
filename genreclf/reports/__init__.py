"""Reports: figures and tables made from finished runs."""
