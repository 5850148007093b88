"""Generated protocol code for the newsdedup.v1 API; regenerate with `python scripts/generate_protos.py`."""
